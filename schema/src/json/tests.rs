//! Tests of the JSON mapping: hand-computed bytes for each row of
//! ENCODING.md's table, the JSON rules, error messages, hostile bytes, and a
//! round-trip property over random types and values.

use super::*;
use crate::signature::{Field, Param, TaskSignature, parse_section};
use crate::strategies;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Bytes from space-separated hex, e.g. "02 00 68".
fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|byte| u8::from_str_radix(byte, 16).expect("hex byte"))
        .collect()
}

fn parse_type(text: &str) -> Type {
    let record = format!("task t() -> {text};");
    match parse_section(record.as_bytes()) {
        Ok(mut tasks) => tasks.remove(0).ret,
        Err(error) => panic!("{text}: {error}"),
    }
}

fn parse_task(record: &str) -> TaskSignature {
    match parse_section(record.as_bytes()) {
        Ok(mut tasks) => tasks.remove(0),
        Err(error) => panic!("{record}: {error}"),
    }
}

pub(super) fn encoded(ty: &Type, value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match encode(ty, value, &mut out) {
        Ok(()) => out,
        Err(error) => panic!("encoding {value} as {ty}: {error}"),
    }
}

fn encode_err(ty: &Type, value: &Value) -> ValueError {
    let mut out = Vec::new();
    match encode(ty, value, &mut out) {
        Ok(()) => panic!("encoding {value} as {ty} should fail, gave {out:02x?}"),
        Err(error) => error,
    }
}

fn decode_err(ty: &Type, input: &[u8]) -> ValueError {
    match decode(ty, input) {
        Ok(value) => panic!("decoding {input:02x?} as {ty} should fail, gave {value}"),
        Err(error) => error,
    }
}

/// Checks both directions: `value` encodes to `hex`, and `hex` decodes to `value`.
fn assert_both_ways(ty_text: &str, value: Value, hex: &str) {
    let ty = parse_type(ty_text);
    let expected = bytes(hex);
    assert_eq!(
        encoded(&ty, &value),
        expected,
        "encoding {value} as {ty_text}"
    );
    assert_eq!(
        decode(&ty, &expected),
        Ok(value),
        "decoding {hex} as {ty_text}"
    );
}

// ---- the table of ENCODING.md, row by row ----

#[test]
fn unit_is_no_bytes() {
    assert_both_ways("unit", Value::Null, "");
}

#[test]
fn bool_is_one_byte() {
    assert_both_ways("bool", json!(false), "00");
    assert_both_ways("bool", json!(true), "01");
}

#[test]
fn signed_integers_are_twos_complement_little_endian() {
    assert_both_ways("i8", json!(-1), "ff");
    assert_both_ways("i8", json!(127), "7f");
    assert_both_ways("i16", json!(-2), "fe ff");
    assert_both_ways("i32", json!(1), "01 00 00 00");
    assert_both_ways("i32", json!(-2147483648), "00 00 00 80");
    assert_both_ways("i64", json!(1), "01 00 00 00 00 00 00 00");
    assert_both_ways("i64", json!(-1), "ff ff ff ff ff ff ff ff");
    assert_both_ways("i64", json!(i64::MIN), "00 00 00 00 00 00 00 80");
}

#[test]
fn unsigned_integers_are_little_endian() {
    assert_both_ways("u8", json!(255), "ff");
    assert_both_ways("u16", json!(0x1234), "34 12");
    assert_both_ways("u32", json!(0xdeadbeef_u32), "ef be ad de");
    assert_both_ways("u64", json!(10), "0a 00 00 00 00 00 00 00");
    // Above i64::MAX, both ways.
    assert_both_ways("u64", json!(u64::MAX), "ff ff ff ff ff ff ff ff");
    assert_both_ways("u64", json!(1_u64 << 63), "00 00 00 00 00 00 00 80");
}

#[test]
fn floats_are_ieee_754_little_endian() {
    assert_both_ways("f32", json!(1.0), "00 00 80 3f");
    assert_both_ways("f32", json!(-2.5), "00 00 20 c0");
    assert_both_ways("f64", json!(1.0), "00 00 00 00 00 00 f0 3f");
    assert_both_ways("f64", json!(2.0), "00 00 00 00 00 00 00 40");
    assert_both_ways("f64", json!("NaN"), "00 00 00 00 00 00 f8 7f");
    assert_both_ways("f64", json!("inf"), "00 00 00 00 00 00 f0 7f");
    assert_both_ways("f64", json!("-inf"), "00 00 00 00 00 00 f0 ff");
    assert_both_ways("f32", json!("NaN"), "00 00 c0 7f");
    assert_both_ways("f32", json!("inf"), "00 00 80 7f");
    assert_both_ways("f32", json!("-inf"), "00 00 80 ff");
}

#[test]
fn char_is_its_utf8_bytes() {
    assert_both_ways("char", json!("a"), "61");
    assert_both_ways("char", json!("é"), "c3 a9");
    assert_both_ways("char", json!("€"), "e2 82 ac");
    assert_both_ways("char", json!("😀"), "f0 9f 98 80");
}

#[test]
fn string_is_u64_length_then_utf8() {
    assert_both_ways("string", json!("hi"), "02 00 00 00 00 00 00 00 68 69");
    assert_both_ways("string", json!(""), "00 00 00 00 00 00 00 00");
    assert_both_ways("string", json!("é"), "02 00 00 00 00 00 00 00 c3 a9");
}

#[test]
fn option_is_a_tag_byte_then_the_value() {
    assert_both_ways("option<u8>", Value::Null, "00");
    assert_both_ways("option<u8>", json!(5), "01 05");
    assert_both_ways(
        "option<string>",
        json!("hi"),
        "01 02 00 00 00 00 00 00 00 68 69",
    );
}

#[test]
fn list_is_u64_count_then_elements() {
    assert_both_ways(
        "list<u16>",
        json!([1, 2]),
        "02 00 00 00 00 00 00 00 01 00 02 00",
    );
    assert_both_ways("list<bool>", json!([]), "00 00 00 00 00 00 00 00");
    assert_both_ways(
        "list<unit>",
        json!([null, null, null]),
        "03 00 00 00 00 00 00 00",
    );
}

#[test]
fn map_is_u64_count_then_keys_and_values() {
    // String keys: a JSON object.
    assert_both_ways(
        "map<string, u8>",
        json!({"a": 1}),
        "01 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00 61  01",
    );
    // Other keys: an array of [key, value] pairs.
    assert_both_ways(
        "map<u8, bool>",
        json!([[1, true], [2, false]]),
        "02 00 00 00 00 00 00 00  01 01  02 00",
    );
    assert_both_ways("map<char, u8>", json!([]), "00 00 00 00 00 00 00 00");
}

#[test]
fn tuple_is_its_elements_in_order() {
    assert_both_ways("tuple<u8, i16>", json!([1, -1]), "01 ff ff");
    assert_both_ways("tuple<>", json!([]), "");
    assert_both_ways("tuple<bool>", json!([true]), "01");
}

#[test]
fn struct_is_its_fields_in_order() {
    assert_both_ways(
        "struct Account{name: string, balance: i64}",
        json!({"balance": -2, "name": "x"}),
        "01 00 00 00 00 00 00 00 78  fe ff ff ff ff ff ff ff",
    );
    assert_both_ways("struct Empty{}", json!({}), "");
}

#[test]
fn enum_is_u32_variant_index_then_fields() {
    let shape = "enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty, Pair(u8, u16)}";
    assert_both_ways(
        shape,
        json!({"Circle": 1.0}),
        "00 00 00 00  00 00 00 00 00 00 f0 3f",
    );
    assert_both_ways(
        shape,
        json!({"Rect": {"w": 1.0, "h": 2.0}}),
        "01 00 00 00  00 00 00 00 00 00 f0 3f  00 00 00 00 00 00 00 40",
    );
    assert_both_ways(shape, json!("Empty"), "02 00 00 00");
    assert_both_ways(shape, json!({"Pair": [1, 2]}), "03 00 00 00  01  02 00");
}

#[test]
fn the_encoding_md_example_arguments() {
    let add = parse_task("task add(a: i64, b: i64) -> i64;");
    let args = encode_args(&add, &[json!(1), json!(10)]).expect("encodes");
    assert_eq!(
        args,
        bytes("01 00 00 00 00 00 00 00  0a 00 00 00 00 00 00 00")
    );
    assert_eq!(decode_args(&add, &args), Ok(vec![json!(1), json!(10)]));
}

// ---- JSON rules ----

#[test]
fn integers_must_be_whole_and_in_range() {
    assert_eq!(
        encoded(&Type::I64, &json!(2.0)),
        encoded(&Type::I64, &json!(2))
    );
    assert_eq!(encoded(&Type::U8, &json!(-0.0)), vec![0]);
    for (ty, value) in [
        (Type::I64, json!(1.5)),
        (Type::I64, json!("1")),
        (Type::I64, json!(1e19)),
        (Type::U8, json!(256)),
        (Type::I8, json!(-129)),
        (Type::U64, json!(-1)),
        (Type::U64, json!(1e20)),
        (Type::U32, json!(null)),
    ] {
        assert!(
            matches!(
                encode_err(&ty, &value).kind(),
                ValueErrorKind::Mismatch { .. }
            ),
            "{value} as {ty}"
        );
    }
    assert_eq!(
        encode_err(&Type::U8, &json!(300)).to_string(),
        "expected an integer in u8's range, found 300"
    );
    assert_eq!(
        encode_err(&Type::I64, &json!(1.5)).to_string(),
        "expected an integer in i64's range, found 1.5"
    );
}

#[test]
fn floats_accept_numbers_and_the_non_finite_strings() {
    assert_eq!(encoded(&Type::F64, &json!(3)), 3.0_f64.to_le_bytes());
    assert_eq!(
        encoded(&Type::F64, &json!(u64::MAX)),
        (u64::MAX as f64).to_le_bytes()
    );
    assert_eq!(encoded(&Type::F32, &json!(0.1)), 0.1_f32.to_le_bytes());
    // As with serde, a number beyond f32's range becomes infinity.
    assert_eq!(
        encoded(&Type::F32, &json!(1e300)),
        f32::INFINITY.to_le_bytes()
    );
    for value in [json!("nan"), json!("Infinity"), json!(""), json!(true)] {
        assert_eq!(
            encode_err(&Type::F64, &value).to_string(),
            format!("expected a number or \"NaN\", \"inf\", \"-inf\", found {value}")
        );
    }
    // f32 prints with its shortest decimal, as serde_json does.
    assert_eq!(decode(&Type::F32, &0.1_f32.to_le_bytes()), Ok(json!(0.1)));
    assert_eq!(
        decode(&Type::F32, &f32::MIN_POSITIVE.to_le_bytes()),
        Ok(json!(1.1754944e-38))
    );
    // Where two decimals are equally short, serde_json's (ryu's) choice.
    assert_eq!(
        decode(&Type::F32, &((-518_727.625_f64) as f32).to_le_bytes()),
        Ok(json!(-518727.62))
    );
    assert_eq!(
        decode(&Type::F32, &1.654_117_2e-16_f32.to_le_bytes()),
        Ok(json!(1.6541172e-16))
    );
    // Any NaN payload prints as "NaN".
    assert_eq!(
        decode(&Type::F64, &bytes("01 00 00 00 00 00 f8 ff")),
        Ok(json!("NaN"))
    );
}

#[test]
fn char_is_a_one_character_string() {
    for value in [json!(""), json!("ab"), json!("é!"), json!(97)] {
        assert_eq!(
            encode_err(&Type::Char, &value).to_string(),
            format!("expected a string of exactly one character, found {value}")
        );
    }
}

#[test]
fn structs_need_exactly_their_fields() {
    let account = parse_type("struct Account{name: string, balance: i64}");
    assert_eq!(
        encode_err(&account, &json!({"name": "x"})).to_string(),
        "missing field `balance` of struct `Account`"
    );
    assert_eq!(
        encode_err(&account, &json!({"name": "x", "balance": 1, "extra": 2})).to_string(),
        "unknown field `extra` of struct `Account` (its fields: `name`, `balance`)"
    );
    // A misspelt field is reported as unknown rather than the real one missing.
    assert_eq!(
        encode_err(&account, &json!({"name": "x", "balanse": 1})).to_string(),
        "unknown field `balanse` of struct `Account` (its fields: `name`, `balance`)"
    );
    assert_eq!(
        encode_err(&account, &json!(["x", 1])).to_string(),
        "expected an object (struct `Account`), found [\"x\",1]"
    );
}

#[test]
fn enums_are_externally_tagged() {
    let shape = parse_type("enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty, Pair(u8, u16)}");
    // serde_json also accepts a unit variant as {"Name": null}.
    assert_eq!(
        encoded(&shape, &json!({"Empty": null})),
        bytes("02 00 00 00")
    );
    assert_eq!(
        encode_err(&shape, &json!("Square")).to_string(),
        "unknown variant `Square` of enum `Shape` (its variants: `Circle`, `Rect`, `Empty`, `Pair`)"
    );
    assert_eq!(
        encode_err(&shape, &json!("Circle")).to_string(),
        "expected an object {\"Circle\": …} (variant `Circle` holds data), found \"Circle\""
    );
    assert_eq!(
        encode_err(&shape, &json!({"Empty": 1})).to_string(),
        "Empty: expected null (variant `Empty` holds no data), found 1"
    );
    assert_eq!(
        encode_err(&shape, &json!({"Circle": 1.0, "Empty": null})).to_string(),
        "expected a variant of enum `Shape` (a string, or an object with one member), \
         found {\"Circle\":1.0,\"Empty\":null}"
    );
    assert_eq!(
        encode_err(&shape, &json!({"Rect": {"w": 1.0}})).to_string(),
        "Rect: missing field `h` of variant `Shape::Rect`"
    );
    assert_eq!(
        encode_err(&shape, &json!({"Pair": [1, "x"]})).to_string(),
        "Pair[1]: expected an integer in u16's range, found \"x\""
    );
    assert_eq!(
        encode_err(&shape, &json!({"Pair": [1]})).to_string(),
        "Pair: expected an array of 2 elements, found [1]"
    );
}

#[test]
fn maps_take_objects_only_for_string_keys() {
    let by_number = parse_type("map<u64, string>");
    assert_eq!(
        encode_err(&by_number, &json!({"1": "a"})).to_string(),
        "expected an array of [key, value] pairs, found {\"1\":\"a\"}"
    );
    assert_eq!(
        encode_err(&by_number, &json!([[1, "a"], [2]])).to_string(),
        "[1]: expected a [key, value] pair, found [2]"
    );
    assert_eq!(
        encode_err(&by_number, &json!([[1, "a"], [-2, "b"]])).to_string(),
        "[1].key: expected an integer in u64's range, found -2"
    );
    assert_eq!(
        encode_err(&by_number, &json!([[1, 2]])).to_string(),
        "[0].value: expected a string, found 2"
    );
    let by_name = parse_type("map<string, list<u8>>");
    assert_eq!(
        encode_err(&by_name, &json!({"alice": [1, 1000]})).to_string(),
        "[\"alice\"][1]: expected an integer in u8's range, found 1000"
    );
}

#[test]
fn unit_and_option() {
    assert_eq!(
        encode_err(&Type::Unit, &json!(0)).to_string(),
        "expected null, found 0"
    );
    // As in serde_json, `null` is always the outer none.
    let nested = parse_type("option<option<u8>>");
    assert_eq!(encoded(&nested, &Value::Null), vec![0]);
    assert_eq!(decode(&nested, &[1, 0]), Ok(Value::Null));
    assert_eq!(encoded(&nested, &json!(7)), vec![1, 1, 7]);
}

#[test]
fn encode_leaves_the_output_untouched_on_error() {
    let mut out = vec![9, 9];
    let ty = parse_type("tuple<u8, u8, string>");
    assert!(encode(&ty, &json!([1, 2, 3]), &mut out).is_err());
    assert_eq!(out, [9, 9]);
}

#[test]
fn argument_errors_name_the_parameter() {
    let add = parse_task("task add(a: i64, b: i64) -> i64;");
    assert_eq!(
        encode_args(&add, &[json!(1)]).map_err(|error| error.to_string()),
        Err("task `add` takes 2 arguments (a: i64, b: i64), got 1".to_owned())
    );
    let one = parse_task("task neg(x: option<f64>) -> f64;");
    assert_eq!(
        encode_args(&one, &[]).map_err(|error| error.to_string()),
        Err("task `neg` takes 1 argument (x: Option<f64>), got 0".to_owned())
    );
    let none = parse_task("task now() -> u64;");
    assert_eq!(
        encode_args(&none, &[json!(1)]).map_err(|error| error.to_string()),
        Err("task `now` takes no arguments (), got 1".to_owned())
    );
    assert_eq!(encode_args(&none, &[]), Ok(vec![]));

    let negative = parse_task(
        "task negative(rows: list<struct Account{name: string, balance: i64}>) -> unit;",
    );
    let rows = json!([
        {"name": "a", "balance": 1},
        {"name": "b", "balance": 2},
        {"name": "c", "balance": 3},
        {"name": "d", "balance": "abc"},
    ]);
    let error = encode_args(&negative, &[rows]).expect_err("bad balance");
    assert_eq!(
        error.to_string(),
        "argument `rows`: [3].balance: expected an integer in i64's range, found \"abc\""
    );
    assert_eq!(error.argument(), Some("rows"));
    assert_eq!(
        error.path(),
        [PathSegment::Index(3), PathSegment::Field("balance".into())]
    );
}

#[test]
fn long_json_is_shortened_in_messages() {
    let long = Value::String("x".repeat(500));
    let message = encode_err(&Type::I64, &long).to_string();
    assert!(message.chars().count() < 120, "{message}");
    assert!(message.ends_with("xxx…"), "{message}");
}

// ---- decoding hostile bytes ----

#[test]
fn truncated_values_say_what_and_where() {
    // The first entry's list makes the length check pass; the second key is cut short.
    let ty = parse_type("map<u64, list<u8>>");
    let mut input = 2_u64.to_le_bytes().to_vec();
    input.extend(7_u64.to_le_bytes());
    input.extend(20_u64.to_le_bytes());
    input.extend([0xaa; 20]);
    input.extend([1, 2, 3]);
    let error = decode_err(&ty, &input);
    assert_eq!(error.byte(), Some(44));
    assert_eq!(error.path(), [PathSegment::MapKey(1)]);
    assert_eq!(
        error.to_string(),
        "at byte 44: [1].key: expected 8 bytes for u64, found 3"
    );
    // A length the remaining bytes cannot hold is caught before the entries.
    assert_eq!(
        decode_err(
            &parse_type("map<u64, u8>"),
            &bytes("01 00 00 00 00 00 00 00  05 00 00")
        )
        .to_string(),
        "at byte 0: map of 1 element needs at least 9 bytes, found 3"
    );
    assert_eq!(
        decode_err(&Type::I64, &[]).to_string(),
        "at byte 0: expected 8 bytes for i64, found 0"
    );
    assert_eq!(
        decode_err(&Type::String, &bytes("05 00 00 00 00 00 00 00 68 69")).to_string(),
        "at byte 8: expected 5 bytes for the string's contents, found 2"
    );
    assert_eq!(
        decode_err(&Type::String, &bytes("05 00 00")).to_string(),
        "at byte 0: expected 8 bytes for a string length, found 3"
    );
    let shape = parse_type("enum Shape{Circle(f64)}");
    assert_eq!(
        decode_err(&shape, &bytes("00 00")).to_string(),
        "at byte 0: expected 4 bytes for an enum variant index, found 2"
    );
    assert_eq!(
        decode_err(&shape, &bytes("00 00 00 00 01")).to_string(),
        "at byte 4: Circle: expected 8 bytes for f64, found 1"
    );
}

#[test]
fn leftover_bytes_are_an_error() {
    assert_eq!(
        decode_err(&Type::I32, &bytes("01 00 00 00 02 03")).to_string(),
        "at byte 4: 2 bytes left over after the value"
    );
    assert_eq!(
        decode_err(&Type::Unit, &[0]).kind(),
        &ValueErrorKind::TrailingBytes { count: 1 }
    );
}

#[test]
fn invalid_tags_and_bytes() {
    assert_eq!(
        decode_err(&Type::Bool, &[2]).to_string(),
        "at byte 0: invalid bool byte 0x02 (expected 0 or 1)"
    );
    let list = parse_type("list<option<u8>>");
    assert_eq!(
        decode_err(&list, &bytes("02 00 00 00 00 00 00 00  01 07  03")).to_string(),
        "at byte 10: [1]: invalid option tag 0x03 (expected 0 for none or 1 for some)"
    );
    let shape = parse_type("enum Shape{Circle(f64), Empty}");
    assert_eq!(
        decode_err(&shape, &bytes("02 00 00 00")).to_string(),
        "at byte 0: variant index 2 out of range for enum `Shape`, which has 2 variants"
    );
    assert_eq!(
        decode_err(&shape, &bytes("ff ff ff ff")).kind(),
        &ValueErrorKind::VariantIndexOutOfRange {
            index: u64::from(u32::MAX),
            enum_name: "Shape".into(),
            count: 2
        }
    );
}

#[test]
fn invalid_utf8_in_strings_and_chars() {
    let error = decode_err(&Type::String, &bytes("03 00 00 00 00 00 00 00  61 ff 62"));
    assert_eq!(error.to_string(), "at byte 9: invalid UTF-8 in a string");
    for (hex, shown) in [
        ("ff", "ff"),             // never a UTF-8 byte
        ("80", "80"),             // a continuation byte first
        ("c3 28", "c3 28"),       // a bad continuation byte
        ("ed a0 80", "ed a0 80"), // a surrogate
        ("f8 88 80 80", "f8"),    // a five-byte lead
        ("c0 80", "c0 80"),       // overlong
    ] {
        assert_eq!(
            decode_err(&Type::Char, &bytes(hex)).to_string(),
            format!("at byte 0: invalid UTF-8 encoding of a char: {shown}"),
            "for {hex}"
        );
    }
    assert_eq!(
        decode_err(&Type::Char, &bytes("e2 82")).to_string(),
        "at byte 0: expected 3 bytes for a 3-byte char, found 2"
    );
}

#[test]
fn huge_lengths_are_rejected_before_allocating() {
    let list = parse_type("list<u64>");
    let error = decode_err(&list, &bytes("ff ff ff ff ff ff ff ff  01 00"));
    assert_eq!(
        error.to_string(),
        format!(
            "at byte 0: list of {} elements needs at least {} bytes, found 2",
            u64::MAX,
            u128::from(u64::MAX) * 8
        )
    );
    // Three u16s need 6 bytes; 5 remain.
    let list = parse_type("list<u16>");
    assert!(matches!(
        decode_err(&list, &bytes("03 00 00 00 00 00 00 00  01 00 02 00 03")).kind(),
        ValueErrorKind::TooManyElements {
            count: 3,
            needed: 6,
            found: 5,
            ..
        }
    ));
    let map = parse_type("map<string, string>");
    assert!(matches!(
        decode_err(&map, &bytes("00 00 00 00 00 00 00 10")).kind(),
        ValueErrorKind::TooManyElements { .. }
    ));
    assert!(matches!(
        decode_err(&Type::String, &bytes("ff ff ff ff ff ff ff ff")).kind(),
        ValueErrorKind::Truncated {
            needed: u64::MAX,
            found: 0,
            ..
        }
    ));
    // A length that fits the input, but elements larger than their minimum.
    let strings = parse_type("list<string>");
    assert!(matches!(
        decode_err(
            &strings,
            &bytes("02 00 00 00 00 00 00 00  05 00 00 00 00 00 00 00  01 02 03 04 05 06 07 08")
        )
        .kind(),
        ValueErrorKind::Truncated { .. }
    ));
}

#[test]
fn zero_sized_elements_have_a_budget() {
    let units = parse_type("list<unit>");
    let count = ZERO_SIZED_VALUES_MAX;
    let decoded = decode(&units, &count.to_le_bytes()).expect("within the budget");
    assert_eq!(decoded.as_array().map(Vec::len), Some(count as usize));
    let error = decode_err(&units, &(count + 1).to_le_bytes());
    assert_eq!(
        error.to_string(),
        format!(
            "at byte 0: list of {} zero-sized elements, over the limit of {count} such values per decode",
            count + 1
        )
    );
    assert!(matches!(
        decode_err(&units, &u64::MAX.to_le_bytes()).kind(),
        ValueErrorKind::ZeroSizedOverLimit { .. }
    ));
    // The budget covers the whole decode and every value in each element.
    let nested = parse_type("list<list<tuple<unit, struct E{}>>>");
    let mut input = 2_u64.to_le_bytes().to_vec();
    let per_list = ZERO_SIZED_VALUES_MAX / 3 / 2 + 1;
    input.extend(per_list.to_le_bytes());
    input.extend(per_list.to_le_bytes());
    assert!(matches!(
        decode_err(&nested, &input).kind(),
        ValueErrorKind::ZeroSizedOverLimit { .. }
    ));
    let maps = parse_type("map<unit, tuple<>>");
    assert_eq!(
        decode(&maps, &2_u64.to_le_bytes()),
        Ok(json!([[null, []], [null, []]]))
    );
}

#[test]
fn repeated_string_keys_keep_the_last_value() {
    let map = parse_type("map<string, u8>");
    let input = bytes(
        "02 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00 61 01  01 00 00 00 00 00 00 00 61 02",
    );
    assert_eq!(decode(&map, &input), Ok(json!({"a": 2})));
}

#[test]
fn decoded_arguments_name_the_parameter() {
    let task = parse_task("task f(a: u8, b: bool) -> unit;");
    assert_eq!(
        decode_args(&task, &[1, 0]),
        Ok(vec![json!(1), json!(false)])
    );
    assert_eq!(
        decode_args(&task, &[1, 5]).map_err(|error| error.to_string()),
        Err("at byte 1: argument `b`: invalid bool byte 0x05 (expected 0 or 1)".to_owned())
    );
    assert_eq!(
        decode_args(&task, &[1]).map_err(|error| error.to_string()),
        Err("at byte 1: argument `b`: expected 1 byte for bool, found 0".to_owned())
    );
    assert_eq!(
        decode_args(&task, &[1, 1, 1]).map_err(|error| error.to_string()),
        Err("at byte 2: 1 byte left over after the value".to_owned())
    );
}

#[test]
fn paths_through_variants_and_maps_when_decoding() {
    let ty = parse_type("enum E{V{items: map<string, list<bool>>}}");
    let input = bytes(
        "00 00 00 00  01 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00 6b  \
         02 00 00 00 00 00 00 00  01 07",
    );
    assert_eq!(
        decode_err(&ty, &input).to_string(),
        "at byte 30: V.items[\"k\"][1]: invalid bool byte 0x07 (expected 0 or 1)"
    );
}

// ---- properties ----

/// A random JSON value of type `ty`, in the form [`decode`] prints.
fn json_for(ty: &Type) -> BoxedStrategy<Value> {
    match ty {
        Type::Unit => Just(Value::Null).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Type::I8 => any::<i8>().prop_map(Value::from).boxed(),
        Type::I16 => any::<i16>().prop_map(Value::from).boxed(),
        Type::I32 => any::<i32>().prop_map(Value::from).boxed(),
        Type::I64 => any::<i64>().prop_map(Value::from).boxed(),
        Type::U8 => any::<u8>().prop_map(Value::from).boxed(),
        Type::U16 => any::<u16>().prop_map(Value::from).boxed(),
        Type::U32 => any::<u32>().prop_map(Value::from).boxed(),
        Type::U64 => any::<u64>().prop_map(Value::from).boxed(),
        Type::F32 => any::<f32>().prop_map(f32_as_serde_json_prints_it).boxed(),
        Type::F64 => any::<f64>()
            .prop_map(|float| match serde_json::Number::from_f64(float) {
                Some(number) => Value::Number(number),
                None => non_finite(float.is_nan(), float < 0.0),
            })
            .boxed(),
        Type::Char => any::<char>()
            .prop_map(|c| Value::String(c.to_string()))
            .boxed(),
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Option(inner) => prop_oneof![Just(Value::Null), json_for(inner)].boxed(),
        Type::List(inner) => prop::collection::vec(json_for(inner), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        Type::Map(key, value) if **key == Type::String => {
            prop::collection::btree_map(any::<String>(), json_for(value), 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect()))
                .boxed()
        }
        Type::Map(key, value) => prop::collection::vec((json_for(key), json_for(value)), 0..4)
            .prop_map(|pairs| {
                Value::Array(
                    pairs
                        .into_iter()
                        .map(|(k, v)| Value::Array(vec![k, v]))
                        .collect(),
                )
            })
            .boxed(),
        Type::Tuple(types) => types
            .iter()
            .map(json_for)
            .collect::<Vec<_>>()
            .prop_map(Value::Array)
            .boxed(),
        Type::Struct { fields, .. } => object_for(fields),
        Type::Enum { variants, .. } => {
            let choices: Vec<BoxedStrategy<Value>> = variants
                .iter()
                .map(|variant| {
                    let name = variant.name.clone();
                    let content = match &variant.fields {
                        VariantFields::Unit => return Just(Value::String(name)).boxed(),
                        VariantFields::Tuple(types) if types.len() == 1 => json_for(&types[0]),
                        VariantFields::Tuple(types) => types
                            .iter()
                            .map(json_for)
                            .collect::<Vec<_>>()
                            .prop_map(Value::Array)
                            .boxed(),
                        VariantFields::Struct(fields) => object_for(fields),
                    };
                    content
                        .prop_map(move |content| json!({ name.clone(): content }))
                        .boxed()
                })
                .collect();
            proptest::strategy::Union::new(choices).boxed()
        }
    }
}

fn object_for(fields: &[Field]) -> BoxedStrategy<Value> {
    let names: Vec<String> = fields.iter().map(|field| field.name.clone()).collect();
    fields
        .iter()
        .map(|field| json_for(&field.ty))
        .collect::<Vec<_>>()
        .prop_map(move |values| Value::Object(names.iter().cloned().zip(values).collect()))
        .boxed()
}

fn non_finite(nan: bool, negative: bool) -> Value {
    Value::from(match (nan, negative) {
        (true, _) => "NaN",
        (false, false) => "inf",
        (false, true) => "-inf",
    })
}

/// An f32 as the decimal serde_json prints for it (read back exactly:
/// serde_json's own reader may be off by an f64 ulp without its
/// `float_roundtrip` feature), non-finite values as the mapping's strings.
fn f32_as_serde_json_prints_it(float: f32) -> Value {
    if !float.is_finite() {
        return non_finite(float.is_nan(), float < 0.0);
    }
    let text = serde_json::to_string(&float).expect("finite f32 serializes");
    let wide: f64 = text.parse().expect("a decimal");
    Value::from(wide)
}

pub(super) fn typed_value() -> impl Strategy<Value = (Type, Value)> {
    strategies::ty().prop_flat_map(|ty| {
        let value = json_for(&ty);
        (Just(ty), value)
    })
}

proptest! {
    #[test]
    fn json_round_trips_through_bytes((ty, value) in typed_value()) {
        let bytes = encoded(&ty, &value);
        prop_assert!(bytes.len() as u64 >= min_encoded_len(&ty));
        prop_assert_eq!(decode(&ty, &bytes), Ok(value), "type {}", ty);
    }

    #[test]
    fn arguments_round_trip(
        (types, values) in prop::collection::vec(typed_value(), 0..4)
            .prop_map(|pairs| pairs.into_iter().unzip::<_, _, Vec<_>, Vec<_>>())
    ) {
        let task = TaskSignature {
            name: "t".into(),
            params: types
                .into_iter()
                .enumerate()
                .map(|(index, ty)| Param { name: format!("p{index}"), ty })
                .collect(),
            ret: Type::Unit,
        };
        let bytes = encode_args(&task, &values).map_err(|error| error.to_string());
        prop_assert!(bytes.is_ok(), "{:?}", bytes);
        let bytes = bytes.unwrap_or_default();
        prop_assert_eq!(decode_args(&task, &bytes), Ok(values));
    }

    #[test]
    fn random_bytes_never_panic(
        ty in strategies::ty(),
        input in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = decode(&ty, &input);
    }

    #[test]
    fn truncated_encodings_are_errors((ty, value) in typed_value()) {
        let bytes = encoded(&ty, &value);
        for end in 0..bytes.len() {
            prop_assert!(decode(&ty, &bytes[..end]).is_err());
        }
    }
}
