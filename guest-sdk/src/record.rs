//! Writes a task's signature record (the text of `schema/ABI.md`'s
//! `weft_tasks` section) at compile time. Everything here is `const fn`:
//! `#[task]` evaluates [`record_len`] and [`record`] in a `static`'s
//! initializer, so the record is plain bytes in the finished module.

use crate::schema::{Field, Ty, VariantKind};

/// A task's signature as `#[task]` sees it.
#[derive(Debug)]
pub struct TaskSig {
    /// The task's name (its export is `weft_task.NAME`).
    pub name: &'static str,
    /// The parameters in order.
    pub params: &'static [Param],
    /// The result type (`T` for a task returning `Result<T, E>`).
    pub ret: &'static Ty,
}

/// One parameter of a task.
#[derive(Debug)]
pub struct Param {
    /// The parameter's name.
    pub name: &'static str,
    /// The parameter's type.
    pub ty: &'static Ty,
}

/// A cursor that writes into `buf` while it has room and counts every byte,
/// so the same code measures a record and then writes it.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    const fn byte(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
        }
        self.len += 1;
    }

    const fn str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            self.byte(bytes[i]);
            i += 1;
        }
    }

    const fn ty(&mut self, ty: &Ty) {
        match ty {
            Ty::Unit => self.str("unit"),
            Ty::Bool => self.str("bool"),
            Ty::I8 => self.str("i8"),
            Ty::I16 => self.str("i16"),
            Ty::I32 => self.str("i32"),
            Ty::I64 => self.str("i64"),
            Ty::U8 => self.str("u8"),
            Ty::U16 => self.str("u16"),
            Ty::U32 => self.str("u32"),
            Ty::U64 => self.str("u64"),
            Ty::F32 => self.str("f32"),
            Ty::F64 => self.str("f64"),
            Ty::Char => self.str("char"),
            Ty::String => self.str("string"),
            Ty::Option(inner) => {
                self.str("option<");
                self.ty(inner);
                self.byte(b'>');
            }
            Ty::List(inner) => {
                self.str("list<");
                self.ty(inner);
                self.byte(b'>');
            }
            Ty::Map { key, value } => {
                self.str("map<");
                self.ty(key);
                self.str(", ");
                self.ty(value);
                self.byte(b'>');
            }
            Ty::Tuple { items } => {
                self.str("tuple<");
                self.types(items);
                self.byte(b'>');
            }
            Ty::Struct { name, fields } => {
                self.str("struct ");
                self.str(name);
                self.byte(b'{');
                self.fields(fields);
                self.byte(b'}');
            }
            Ty::Enum { name, variants } => {
                self.str("enum ");
                self.str(name);
                self.byte(b'{');
                let mut i = 0;
                while i < variants.len() {
                    if i > 0 {
                        self.str(", ");
                    }
                    self.str(variants[i].name);
                    match &variants[i].kind {
                        VariantKind::Unit => {}
                        VariantKind::Tuple { items } => {
                            self.byte(b'(');
                            self.types(items);
                            self.byte(b')');
                        }
                        VariantKind::Struct { fields } => {
                            self.byte(b'{');
                            self.fields(fields);
                            self.byte(b'}');
                        }
                    }
                    i += 1;
                }
                self.byte(b'}');
            }
        }
    }

    const fn types(&mut self, items: &[&Ty]) {
        let mut i = 0;
        while i < items.len() {
            if i > 0 {
                self.str(", ");
            }
            self.ty(items[i]);
            i += 1;
        }
    }

    const fn fields(&mut self, fields: &[Field]) {
        let mut i = 0;
        while i < fields.len() {
            if i > 0 {
                self.str(", ");
            }
            self.str(fields[i].name);
            self.str(": ");
            self.ty(fields[i].ty);
            i += 1;
        }
    }

    const fn sig(&mut self, sig: &TaskSig) {
        self.str("task ");
        self.str(sig.name);
        self.byte(b'(');
        let mut i = 0;
        while i < sig.params.len() {
            if i > 0 {
                self.str(", ");
            }
            self.str(sig.params[i].name);
            self.str(": ");
            self.ty(sig.params[i].ty);
            i += 1;
        }
        self.str(") -> ");
        self.ty(sig.ret);
        self.str(";\n");
    }
}

/// The length in bytes of `sig`'s record.
pub const fn record_len(sig: &TaskSig) -> usize {
    let mut out = Out {
        buf: &mut [],
        len: 0,
    };
    out.sig(sig);
    out.len
}

/// `sig`'s record; `N` must be [`record_len`]`(sig)`.
pub const fn record<const N: usize>(sig: &TaskSig) -> [u8; N] {
    let mut buf = [0u8; N];
    let mut out = Out {
        buf: &mut buf,
        len: 0,
    };
    out.sig(sig);
    assert!(out.len == N, "record length mismatch");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schema;

    const SIG: TaskSig = TaskSig {
        name: "f",
        params: &[
            Param {
                name: "a",
                ty: <Vec<Option<(i64, String)>> as Schema>::TYPE,
            },
            Param {
                name: "b",
                ty: <std::collections::BTreeMap<String, [u8; 2]> as Schema>::TYPE,
            },
        ],
        ret: <() as Schema>::TYPE,
    };

    #[test]
    fn record_text_follows_the_grammar() {
        const BYTES: [u8; record_len(&SIG)] = record(&SIG);
        assert_eq!(
            std::str::from_utf8(&BYTES).unwrap(),
            "task f(a: list<option<tuple<i64, string>>>, b: map<string, tuple<u8, u8>>) -> unit;\n"
        );
    }
}
