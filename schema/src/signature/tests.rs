//! Tests of the signature model: parsing (valid and malformed sections), the
//! record round trip, and the display forms.

use super::*;
use crate::strategies;
use proptest::prelude::*;

fn parse_one(text: &str) -> TaskSignature {
    match parse_section(text.as_bytes()) {
        Ok(mut tasks) if tasks.len() == 1 => tasks.remove(0),
        other => panic!("expected one task from {text:?}, got {other:?}"),
    }
}

fn parse_err(text: impl AsRef<[u8]>) -> SignatureError {
    match parse_section(text.as_ref()) {
        Ok(tasks) => panic!("expected an error, parsed {tasks:?}"),
        Err(error) => error,
    }
}

fn offset_of(text: &str, needle: &str) -> usize {
    text.find(needle).expect("needle in text")
}

fn account() -> Type {
    Type::Struct {
        name: "Account".into(),
        fields: vec![
            Field {
                name: "name".into(),
                ty: Type::String,
            },
            Field {
                name: "balance".into(),
                ty: Type::I64,
            },
        ],
    }
}

fn shape() -> Type {
    Type::Enum {
        name: "Shape".into(),
        variants: vec![
            Variant {
                name: "Circle".into(),
                fields: VariantFields::Tuple(vec![Type::F64]),
            },
            Variant {
                name: "Rect".into(),
                fields: VariantFields::Struct(vec![
                    Field {
                        name: "w".into(),
                        ty: Type::F64,
                    },
                    Field {
                        name: "h".into(),
                        ty: Type::F64,
                    },
                ]),
            },
            Variant {
                name: "Empty".into(),
                fields: VariantFields::Unit,
            },
        ],
    }
}

// ---- valid sections ----

#[test]
fn parses_the_abi_examples() {
    let text = "task add(a: i64, b: i64) -> i64;\n\
        task negative(rows: list<struct Account{name: string, balance: i64}>) -> list<struct Account{name: string, balance: i64}>;";
    let tasks = parse_section(text.as_bytes()).expect("valid section");
    assert_eq!(
        tasks,
        vec![
            TaskSignature {
                name: "add".into(),
                params: vec![
                    Param {
                        name: "a".into(),
                        ty: Type::I64
                    },
                    Param {
                        name: "b".into(),
                        ty: Type::I64
                    },
                ],
                ret: Type::I64,
            },
            TaskSignature {
                name: "negative".into(),
                params: vec![Param {
                    name: "rows".into(),
                    ty: Type::List(Box::new(account())),
                }],
                ret: Type::List(Box::new(account())),
            },
        ]
    );
}

#[test]
fn parses_every_type_form() {
    let task = parse_one(
        "task all(a: unit, b: bool, c: i8, d: i16, e: i32, f: i64, g: u8, h: u16, i: u32, \
         j: u64, k: f32, l: f64, m: char, n: string, o: option<i32>, p: map<u8, string>, \
         q: tuple<>, r: tuple<bool>, s: struct Empty{}, \
         t: enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty}, u: enum P{A(u8, u16), B{}}) -> unit;",
    );
    let types: Vec<&Type> = task.params.iter().map(|param| &param.ty).collect();
    assert_eq!(
        types[..6],
        [
            &Type::Unit,
            &Type::Bool,
            &Type::I8,
            &Type::I16,
            &Type::I32,
            &Type::I64
        ]
    );
    assert_eq!(types[14], &Type::Option(Box::new(Type::I32)));
    assert_eq!(
        types[15],
        &Type::Map(Box::new(Type::U8), Box::new(Type::String))
    );
    assert_eq!(types[16], &Type::Tuple(vec![]));
    assert_eq!(types[17], &Type::Tuple(vec![Type::Bool]));
    assert_eq!(
        types[18],
        &Type::Struct {
            name: "Empty".into(),
            fields: vec![]
        }
    );
    assert_eq!(types[19], &shape());
    assert_eq!(task.ret, Type::Unit);
}

#[test]
fn empty_and_blank_sections_hold_no_tasks() {
    assert_eq!(parse_section(b""), Ok(vec![]));
    assert_eq!(parse_section(b" \n\t\0\0\r "), Ok(vec![]));
}

#[test]
fn keywords_are_not_reserved_as_names() {
    let task = parse_one("task task(task: struct struct{enum: i64}, string: string) -> unit;");
    assert_eq!(task.name, "task");
    assert_eq!(task.params[0].name, "task");
    assert_eq!(task.params[1].name, "string");
}

#[test]
fn tokens_need_no_whitespace_between_them_and_allow_any() {
    let tight = parse_one("task f(a:list<map<string,i64>>)->option<u8>;");
    let loose =
        parse_one("\0task\n f ( a :\tlist < map < string , i64 > > ) -> option < u8 > ;\0\0");
    assert_eq!(tight, loose);
}

#[test]
fn concatenated_records_with_whitespace_and_nul_padding() {
    let first = "task add(a: i64, b: i64) -> i64;";
    let second = "task shape() -> enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty};";
    let third = "task nothing() -> unit;";
    let mut section = Vec::new();
    section.extend_from_slice(first.as_bytes());
    section.extend_from_slice(&[0, 0, 0, b'\n']);
    section.extend_from_slice(second.as_bytes());
    section.extend_from_slice(b" \t\r\n");
    section.extend_from_slice(&[0; 7]);
    section.extend_from_slice(third.as_bytes());
    section.extend_from_slice(&[0; 3]);
    let tasks = parse_section(&section).expect("valid section");
    let names: Vec<&str> = tasks.iter().map(|task| task.name.as_str()).collect();
    assert_eq!(names, ["add", "shape", "nothing"]);
    assert_eq!(tasks[1].ret, shape());
}

#[test]
fn accepts_exactly_the_depth_limit() {
    let nested = |levels: usize| {
        format!(
            "task deep(a: {}i64{}) -> unit;",
            "list<".repeat(levels),
            ">".repeat(levels)
        )
    };
    // `i64` inside 63 lists is 64 levels deep.
    let task = parse_one(&nested(TYPE_DEPTH_MAX - 1));
    assert!(matches!(task.params[0].ty, Type::List(_)));
    let text = nested(TYPE_DEPTH_MAX);
    assert_eq!(
        parse_err(&text),
        SignatureError::TooDeep {
            at: Location {
                offset: offset_of(&text, "i64"),
                task: Some("deep".into())
            },
            max: TYPE_DEPTH_MAX,
        }
    );
}

#[test]
fn depth_counts_struct_and_enum_levels() {
    // 63 options around a struct whose field is at level 65.
    let text = format!(
        "task s() -> {}struct S{{x: i64}}{};",
        "option<".repeat(TYPE_DEPTH_MAX - 1),
        ">".repeat(TYPE_DEPTH_MAX - 1)
    );
    assert!(matches!(parse_err(&text), SignatureError::TooDeep { .. }));
    let text = format!(
        "task e() -> {}enum E{{V(i64)}}{};",
        "option<".repeat(TYPE_DEPTH_MAX - 1),
        ">".repeat(TYPE_DEPTH_MAX - 1)
    );
    assert!(matches!(parse_err(&text), SignatureError::TooDeep { .. }));
}

#[test]
fn a_very_deep_section_is_rejected_without_overflowing_the_stack() {
    let levels = 100_000;
    let text = format!(
        "task t(a: {}i64{}) -> unit;",
        "list<".repeat(levels),
        ">".repeat(levels)
    );
    assert!(matches!(parse_err(&text), SignatureError::TooDeep { .. }));
}

// ---- malformed sections ----

#[test]
fn unknown_type_names_task_and_offset() {
    let text = "task add(a: i64, b: i65) -> i64;";
    let error = parse_err(text);
    assert_eq!(
        error,
        SignatureError::UnknownType {
            at: Location {
                offset: offset_of(text, "i65"),
                task: Some("add".into())
            },
            found: "i65".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "weft_tasks section, byte 20 (task `add`): expected a type, found `i65`"
    );
}

#[test]
fn missing_semicolon() {
    let text = "task a() -> i64 task b() -> i64;";
    let error = parse_err(text);
    assert_eq!(
        error,
        SignatureError::UnexpectedToken {
            at: Location {
                offset: offset_of(text, "task b"),
                task: Some("a".into())
            },
            expected: "`;`".into(),
            found: "task".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "weft_tasks section, byte 16 (task `a`): expected `;`, found `task`"
    );
}

#[test]
fn unbalanced_brackets() {
    let text = "task a(x: list<i64) -> unit;";
    assert_eq!(
        parse_err(text),
        SignatureError::UnexpectedToken {
            at: Location {
                offset: offset_of(text, ")"),
                task: Some("a".into())
            },
            expected: "`>`".into(),
            found: ")".into(),
        }
    );
    let text = "task a(x: tuple<i64>>) -> unit;";
    assert_eq!(
        parse_err(text),
        SignatureError::UnexpectedToken {
            at: Location {
                offset: offset_of(text, ">>") + 1,
                task: Some("a".into())
            },
            expected: "`,` or `)`".into(),
            found: ">".into(),
        }
    );
    let text = "task a(x: struct S{y: i64) -> unit;";
    assert_eq!(
        parse_err(text),
        SignatureError::UnexpectedToken {
            at: Location {
                offset: offset_of(text, ")"),
                task: Some("a".into())
            },
            expected: "`,` or `}`".into(),
            found: ")".into(),
        }
    );
    let text = "task a(x: i64 -> unit;";
    assert!(matches!(
        parse_err(text),
        SignatureError::UnexpectedToken { expected, found, .. } if expected == "`,` or `)`" && found == "->"
    ));
}

#[test]
fn truncated_input() {
    for (text, expected) in [
        ("task", "a task name"),
        ("task add", "`(`"),
        ("task add(a: i64", "`,` or `)`"),
        ("task add(a: i64, b: i64) -> ", "a type"),
        ("task add(a: i64, b: i64) -> i64", "`;`"),
        ("task add() -> map<i64", "`,`"),
        ("task add() -> enum E{A", "`,` or `}`"),
    ] {
        let task = text.strip_prefix("task add").map(|_| "add".to_owned());
        assert_eq!(
            parse_err(text),
            SignatureError::UnexpectedEnd {
                at: Location {
                    offset: text.len(),
                    task
                },
                expected: expected.into(),
            },
            "for {text:?}"
        );
    }
    assert_eq!(
        parse_err("task add(a: i64, b: i64) -> i64").to_string(),
        "weft_tasks section, byte 31 (task `add`): expected `;`, found the end of the section"
    );
}

#[test]
fn invalid_utf8() {
    let mut section = b"task ok() -> unit; task bad(a: i64".to_vec();
    let offset = section.len();
    section.extend_from_slice(&[0xff, 0xfe]);
    section.extend_from_slice(b") -> unit;");
    assert_eq!(
        parse_err(&section),
        SignatureError::InvalidUtf8 {
            at: Location {
                offset,
                task: Some("bad".into())
            }
        }
    );
    // A truncated multi-byte sequence at the very end.
    assert!(matches!(
        parse_err(b"task a() -> unit; \xe2\x82"),
        SignatureError::InvalidUtf8 { at } if at.offset == 18 && at.task.is_none()
    ));
}

#[test]
fn valid_non_ascii_is_an_unexpected_character() {
    let text = "task café() -> unit;";
    let error = parse_err(text);
    assert_eq!(
        error,
        SignatureError::UnexpectedCharacter {
            at: Location {
                offset: offset_of(text, "é"),
                task: Some("caf".into())
            },
            found: 'é',
        }
    );
    assert_eq!(
        error.to_string(),
        "weft_tasks section, byte 8 (task `caf`): unexpected character `é`"
    );
    assert!(matches!(
        parse_err("task a() - > unit;"),
        SignatureError::UnexpectedCharacter { found: '-', .. }
    ));
}

#[test]
fn oversized_section() {
    let mut section = b"task a() -> unit;".to_vec();
    section.resize(SECTION_BYTES_MAX + 1, b' ');
    assert_eq!(
        parse_err(&section),
        SignatureError::SectionTooLarge {
            len: SECTION_BYTES_MAX + 1,
            max: SECTION_BYTES_MAX
        }
    );
    section.truncate(SECTION_BYTES_MAX);
    assert_eq!(parse_section(&section).map(|tasks| tasks.len()), Ok(1));
}

#[test]
fn duplicate_task_names() {
    let text = "task a() -> unit; task b() -> unit; task a(x: i64) -> unit;";
    let error = parse_err(text);
    assert_eq!(
        error,
        SignatureError::DuplicateTask {
            at: Location {
                offset: offset_of(text, "a(x"),
                task: Some("a".into())
            },
            name: "a".into(),
            first_offset: 5,
        }
    );
    assert_eq!(
        error.to_string(),
        "weft_tasks section, byte 41 (task `a`): task `a` is recorded twice (first at byte 5)"
    );
}

#[test]
fn duplicate_names_within_lists() {
    let text = "task f(a: i64, a: i64) -> unit;";
    assert_eq!(
        parse_err(text),
        SignatureError::DuplicateParam {
            at: Location {
                offset: 15,
                task: Some("f".into())
            },
            name: "a".into()
        }
    );
    let text = "task f() -> struct S{x: i64, y: i64, x: bool};";
    assert_eq!(
        parse_err(text).to_string(),
        "weft_tasks section, byte 37 (task `f`): duplicate field `x` in struct `S`"
    );
    let text = "task f() -> enum E{A, B{x: i64, x: i64}};";
    assert_eq!(
        parse_err(text).to_string(),
        "weft_tasks section, byte 32 (task `f`): duplicate field `x` in variant `E::B`"
    );
    let text = "task f() -> enum E{A, B(i64), A};";
    assert_eq!(
        parse_err(text),
        SignatureError::DuplicateVariant {
            at: Location {
                offset: 30,
                task: Some("f".into())
            },
            name: "A".into(),
            enum_name: "E".into(),
        }
    );
    // The same name in different lists is fine.
    parse_one("task f(x: struct S{x: i64}) -> enum E{x{x: i64}, y(struct x{x: u8})};");
}

#[test]
fn enum_without_variants() {
    let text = "task f() -> enum Never{};";
    assert_eq!(
        parse_err(text),
        SignatureError::EmptyEnum {
            at: Location {
                offset: offset_of(text, "}"),
                task: Some("f".into())
            },
            name: "Never".into(),
        }
    );
}

#[test]
fn grammar_violations() {
    let expect_unexpected =
        |text: &str, want_expected: &str, want_found: &str| match parse_err(text) {
            SignatureError::UnexpectedToken {
                expected, found, ..
            } => {
                assert_eq!(
                    (expected.as_str(), found.as_str()),
                    (want_expected, want_found),
                    "for {text:?}"
                );
            }
            other => panic!("for {text:?}: {other:?}"),
        };
    expect_unexpected("tusk a() -> unit;", "`task`", "tusk");
    expect_unexpected("task 1a() -> unit;", "a task name", "1a");
    expect_unexpected("task a(b: i64,) -> unit;", "a parameter name", ")");
    expect_unexpected("task a(b i64) -> unit;", "`:`", "i64");
    expect_unexpected("task a() -> tuple<i64,>;", "a type", ">");
    expect_unexpected("task a() -> enum E{V()};", "a type", ")");
    expect_unexpected("task a() -> struct {};", "a struct name", "{");
    expect_unexpected("task a() -> unit;;", "`task`", ";");
    expect_unexpected("task a() unit;", "`->`", "unit");
}

#[test]
fn name_length_limit() {
    let long = "n".repeat(NAME_BYTES_MAX + 1);
    let text = format!("task a({long}: i64) -> unit;");
    assert_eq!(
        parse_err(&text),
        SignatureError::NameTooLong {
            at: Location {
                offset: 7,
                task: Some("a".into())
            },
            len: NAME_BYTES_MAX + 1,
            max: NAME_BYTES_MAX,
        }
    );
    let exact = "n".repeat(NAME_BYTES_MAX);
    parse_one(&format!("task a({exact}: i64) -> unit;"));
}

#[test]
fn long_tokens_are_shortened_in_messages() {
    let long = "x".repeat(1000);
    let message = parse_err(format!("task a(b: {long}) -> unit;")).to_string();
    assert!(message.len() < 150, "{message}");
    assert!(message.ends_with("x…`"), "{message}");
}

#[test]
fn task_count_limit() {
    let mut text = String::new();
    for index in 0..TASKS_MAX {
        text.push_str(&format!("task t{index}()->unit;"));
    }
    assert_eq!(
        parse_section(text.as_bytes()).map(|tasks| tasks.len()),
        Ok(TASKS_MAX)
    );
    let offset = text.len();
    text.push_str("task extra() -> unit;");
    assert_eq!(
        parse_err(&text),
        SignatureError::TooManyTasks {
            at: Location { offset, task: None },
            max: TASKS_MAX
        }
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Every prefix of a valid section either parses or fails cleanly.
    let text = "task negative(rows: list<struct Account{name: string, balance: i64}>, \
                s: enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty}) -> map<u8, tuple<>>;";
    for end in 0..text.len() {
        let _ = parse_section(&text.as_bytes()[..end]);
    }
}

// ---- rendering ----

#[test]
fn record_is_canonical() {
    let text = "task negative(rows: list<struct Account{name: string, balance: i64}>) -> \
                list<struct Account{name: string, balance: i64}>;";
    assert_eq!(parse_one(text).to_record(), text);
    let text = "task f(s: enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty}, \
                m: map<u8, option<tuple<>>>, t: tuple<bool, char>) -> unit;";
    assert_eq!(parse_one(text).to_record(), text);
}

#[test]
fn short_display_forms() {
    let cases = [
        (Type::Unit, "()"),
        (Type::Bool, "bool"),
        (Type::I64, "i64"),
        (Type::U8, "u8"),
        (Type::F32, "f32"),
        (Type::String, "String"),
        (Type::Char, "char"),
        (Type::Option(Box::new(Type::I32)), "Option<i32>"),
        (Type::List(Box::new(Type::String)), "Vec<String>"),
        (
            Type::Map(Box::new(Type::String), Box::new(account())),
            "Map<String, Account>",
        ),
        (Type::Tuple(vec![Type::I64, Type::Bool]), "(i64, bool)"),
        (Type::Tuple(vec![Type::I64]), "(i64,)"),
        (Type::Tuple(vec![]), "()"),
        (shape(), "Shape"),
    ];
    for (ty, shown) in cases {
        assert_eq!(ty.to_string(), shown);
    }
    let add = parse_one("task add(a: i64, b: i64) -> i64;");
    assert_eq!(add.to_string(), "add(a: i64, b: i64) -> i64");
    let negative = parse_one(
        "task negative(rows: list<struct Account{name: string, balance: i64}>) -> option<unit>;",
    );
    assert_eq!(
        negative.to_string(),
        "negative(rows: Vec<Account>) -> Option<()>"
    );
}

#[test]
fn definitions() {
    assert_eq!(
        account().definition().as_deref(),
        Some("struct Account { name: String, balance: i64 }")
    );
    assert_eq!(
        shape().definition().as_deref(),
        Some("enum Shape { Circle(f64), Rect { w: f64, h: f64 }, Empty }")
    );
    let empty = Type::Struct {
        name: "Unit".into(),
        fields: vec![],
    };
    assert_eq!(empty.definition().as_deref(), Some("struct Unit {}"));
    let pair = parse_one("task f() -> enum P{Two(u8, list<u8>), None{}};").ret;
    assert_eq!(
        pair.definition().as_deref(),
        Some("enum P { Two(u8, Vec<u8>), None {} }")
    );
    assert_eq!(Type::I64.definition(), None);
    assert_eq!(Type::List(Box::new(account())).definition(), None);
}

#[test]
fn named_types_in_order_of_first_appearance() {
    let task = parse_one(
        "task f(a: list<struct Account{name: string, balance: i64}>, \
                b: enum Shape{Circle(f64), Tagged(struct Tag{label: string})}, \
                c: map<string, struct Account{name: string, balance: i64}>) \
         -> option<struct Report{shape: enum Shape{Circle(f64), Tagged(struct Tag{label: string})}, \
                                   total: enum Total{Sum{value: struct Money{cents: i64}}}}>;",
    );
    let names: Vec<String> = task.named_types().iter().map(|ty| ty.to_string()).collect();
    assert_eq!(
        names,
        ["Account", "Shape", "Tag", "Report", "Total", "Money"]
    );
    assert!(
        parse_one("task g(a: i64) -> list<string>;")
            .named_types()
            .is_empty()
    );
}

#[test]
fn signatures_serialize_through_serde() {
    let task =
        parse_one("task f(s: enum Shape{Circle(f64), Rect{w: f64, h: f64}, Empty}) -> unit;");
    let json = serde_json::to_string(&task).expect("serializes");
    let back: TaskSignature = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, task);
}

proptest! {
    #[test]
    fn record_round_trips(task in strategies::task_signature()) {
        let record = task.to_record();
        let parsed = parse_section(record.as_bytes());
        prop_assert_eq!(parsed, Ok(vec![task]), "record: {}", record);
    }

    #[test]
    fn concatenated_records_round_trip(
        tasks in strategies::task_signatures(),
        padding in prop::collection::vec(prop::collection::vec(
            prop::sample::select(vec![b' ', b'\n', b'\t', b'\r', 0u8]), 0..5), 6),
    ) {
        let mut section = padding[0].clone();
        for (index, task) in tasks.iter().enumerate() {
            section.extend_from_slice(task.to_record().as_bytes());
            section.extend_from_slice(&padding[(index + 1) % padding.len()]);
        }
        prop_assert_eq!(parse_section(&section), Ok(tasks));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_section(&bytes);
    }

    #[test]
    fn mutated_records_never_panic(
        task in strategies::task_signature(),
        position in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"()<>{},:;->; \0\xa1\xff".to_vec()),
    ) {
        let mut bytes = task.to_record().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        let _ = parse_section(&bytes);
    }
}
