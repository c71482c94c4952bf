//! The parser of `weft_tasks` content (ABI.md's grammar): a byte-level lexer
//! and a recursive-descent parser whose recursion is bounded by
//! [`TYPE_DEPTH_MAX`]. The content is untrusted (it comes from uploaded
//! modules), so every failure is a [`SignatureError`] and memory use stays
//! proportional to the content.

use super::{
    Field, Location, NAME_BYTES_MAX, Param, SECTION_BYTES_MAX, SignatureError, TASKS_MAX,
    TYPE_DEPTH_MAX, TaskSignature, Type, Variant, VariantFields,
};
use std::collections::{HashMap, HashSet};

/// Parses the concatenated content of a module's `weft_tasks` custom sections:
/// zero or more records, each ending in `;`, with whitespace and NUL bytes
/// allowed between tokens.
///
/// Rejects content over [`SECTION_BYTES_MAX`], types nested deeper than
/// [`TYPE_DEPTH_MAX`], more than [`TASKS_MAX`] records, names over
/// [`NAME_BYTES_MAX`], two records for one task, two parameters (or fields of
/// one struct or struct variant, or variants of one enum) with one name, and
/// enums without variants.
pub fn parse_section(bytes: &[u8]) -> Result<Vec<TaskSignature>, SignatureError> {
    if bytes.len() > SECTION_BYTES_MAX {
        return Err(SignatureError::SectionTooLarge {
            len: bytes.len(),
            max: SECTION_BYTES_MAX,
        });
    }
    Parser::new(bytes).parse_records()
}

/// Punctuation of the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Punct {
    OpenParen,
    CloseParen,
    OpenBrace,
    CloseBrace,
    OpenAngle,
    CloseAngle,
    Comma,
    Colon,
    Semicolon,
    Arrow,
}

impl Punct {
    fn text(self) -> &'static str {
        match self {
            Self::OpenParen => "(",
            Self::CloseParen => ")",
            Self::OpenBrace => "{",
            Self::CloseBrace => "}",
            Self::OpenAngle => "<",
            Self::CloseAngle => ">",
            Self::Comma => ",",
            Self::Colon => ":",
            Self::Semicolon => ";",
            Self::Arrow => "->",
        }
    }

    fn quoted(self) -> String {
        format!("`{}`", self.text())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind<'a> {
    /// A run of ASCII letters, digits and `_`: a keyword or a name.
    Word(&'a str),
    Punct(Punct),
    End,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: TokenKind<'a>,
    offset: usize,
}

/// How many bytes of a long token an error message quotes.
const QUOTED_TOKEN_CHARS_MAX: usize = 40;

fn shorten(word: &str) -> String {
    if word.len() <= QUOTED_TOKEN_CHARS_MAX {
        word.to_owned()
    } else {
        // Words are ASCII, so any byte index is a char boundary.
        format!("{}…", word.get(..QUOTED_TOKEN_CHARS_MAX).unwrap_or(word))
    }
}

fn is_separator(byte: u8) -> bool {
    byte == 0 || byte.is_ascii_whitespace()
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The task whose record is being parsed, once its name is known.
    task: Option<String>,
}

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            task: None,
        }
    }

    fn at(&self, offset: usize) -> Location {
        Location {
            offset,
            task: self.task.clone(),
        }
    }

    // ---- lexer ----

    /// Reads the token at the current position and moves past it.
    fn next(&mut self) -> Result<Token<'a>, SignatureError> {
        let bytes = self.bytes;
        while self.pos < bytes.len() && is_separator(bytes[self.pos]) {
            self.pos += 1;
        }
        let offset = self.pos;
        let Some(&first) = bytes.get(offset) else {
            return Ok(Token {
                kind: TokenKind::End,
                offset,
            });
        };
        let punct = match first {
            b'(' => Some(Punct::OpenParen),
            b')' => Some(Punct::CloseParen),
            b'{' => Some(Punct::OpenBrace),
            b'}' => Some(Punct::CloseBrace),
            b'<' => Some(Punct::OpenAngle),
            b'>' => Some(Punct::CloseAngle),
            b',' => Some(Punct::Comma),
            b':' => Some(Punct::Colon),
            b';' => Some(Punct::Semicolon),
            b'-' if bytes.get(offset + 1) == Some(&b'>') => Some(Punct::Arrow),
            _ => None,
        };
        if let Some(punct) = punct {
            self.pos += punct.text().len();
            return Ok(Token {
                kind: TokenKind::Punct(punct),
                offset,
            });
        }
        if is_word_byte(first) {
            let end = bytes[offset..]
                .iter()
                .position(|&b| !is_word_byte(b))
                .map_or(bytes.len(), |len| offset + len);
            self.pos = end;
            // A run of ASCII bytes is always valid UTF-8.
            let word = std::str::from_utf8(&bytes[offset..end]).map_err(|_| {
                SignatureError::InvalidUtf8 {
                    at: self.at(offset),
                }
            })?;
            return Ok(Token {
                kind: TokenKind::Word(word),
                offset,
            });
        }
        Err(self.bad_character(offset))
    }

    /// The error for a byte that starts no token: the character it starts,
    /// or invalid UTF-8.
    fn bad_character(&self, offset: usize) -> SignatureError {
        let end = self.bytes.len().min(offset + 4);
        let head = &self.bytes[offset..end];
        let valid = match std::str::from_utf8(head) {
            Ok(text) => text,
            Err(error) => std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or(""),
        };
        match valid.chars().next() {
            Some(found) => SignatureError::UnexpectedCharacter {
                at: self.at(offset),
                found,
            },
            None => SignatureError::InvalidUtf8 {
                at: self.at(offset),
            },
        }
    }

    /// The next token, without moving past it.
    fn peek(&mut self) -> Result<Token<'a>, SignatureError> {
        let saved = self.pos;
        let token = self.next();
        self.pos = saved;
        token
    }

    /// Moves past the next token if it is `punct`.
    fn eat(&mut self, punct: Punct) -> Result<bool, SignatureError> {
        let saved = self.pos;
        let token = self.next()?;
        if token.kind == TokenKind::Punct(punct) {
            Ok(true)
        } else {
            self.pos = saved;
            Ok(false)
        }
    }

    fn unexpected(&self, token: Token<'_>, expected: impl Into<String>) -> SignatureError {
        let expected = expected.into();
        match token.kind {
            TokenKind::Word(word) => SignatureError::UnexpectedToken {
                at: self.at(token.offset),
                expected,
                found: shorten(word),
            },
            TokenKind::Punct(punct) => SignatureError::UnexpectedToken {
                at: self.at(token.offset),
                expected,
                found: punct.text().to_owned(),
            },
            TokenKind::End => SignatureError::UnexpectedEnd {
                at: self.at(token.offset),
                expected,
            },
        }
    }

    fn expect(&mut self, punct: Punct) -> Result<(), SignatureError> {
        let token = self.next()?;
        if token.kind == TokenKind::Punct(punct) {
            Ok(())
        } else {
            Err(self.unexpected(token, punct.quoted()))
        }
    }

    /// Reads a `NAME`; `what` says which ("a field name") for the error.
    fn expect_name(&mut self, what: &str) -> Result<(String, usize), SignatureError> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Word(word) if !word.starts_with(|c: char| c.is_ascii_digit()) => {
                if word.len() > NAME_BYTES_MAX {
                    return Err(SignatureError::NameTooLong {
                        at: self.at(token.offset),
                        len: word.len(),
                        max: NAME_BYTES_MAX,
                    });
                }
                Ok((word.to_owned(), token.offset))
            }
            _ => Err(self.unexpected(token, what)),
        }
    }

    /// Parses `item { "," item } close`, or just `close` when `allow_empty`;
    /// the opening bracket has been read already.
    fn parse_list<T>(
        &mut self,
        close: Punct,
        allow_empty: bool,
        mut item: impl FnMut(&mut Self) -> Result<T, SignatureError>,
    ) -> Result<Vec<T>, SignatureError> {
        let mut items = Vec::new();
        if allow_empty && self.eat(close)? {
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            let token = self.next()?;
            match token.kind {
                TokenKind::Punct(Punct::Comma) => {}
                TokenKind::Punct(punct) if punct == close => return Ok(items),
                _ => return Err(self.unexpected(token, format!("`,` or {}", close.quoted()))),
            }
        }
    }

    // ---- grammar ----

    fn parse_records(&mut self) -> Result<Vec<TaskSignature>, SignatureError> {
        let mut tasks = Vec::new();
        let mut first_offsets: HashMap<String, usize> = HashMap::new();
        loop {
            self.task = None;
            let token = self.next()?;
            match token.kind {
                TokenKind::End => return Ok(tasks),
                TokenKind::Word("task") => {}
                _ => return Err(self.unexpected(token, "`task`")),
            }
            if tasks.len() >= TASKS_MAX {
                return Err(SignatureError::TooManyTasks {
                    at: self.at(token.offset),
                    max: TASKS_MAX,
                });
            }
            let (name, name_offset) = self.expect_name("a task name")?;
            self.task = Some(name.clone());
            if let Some(&first_offset) = first_offsets.get(&name) {
                return Err(SignatureError::DuplicateTask {
                    at: self.at(name_offset),
                    name,
                    first_offset,
                });
            }
            first_offsets.insert(name.clone(), name_offset);
            let task = self.parse_record_rest(name)?;
            tasks.push(task);
        }
    }

    /// Parses a record after `task NAME`, up to and including its `;`.
    fn parse_record_rest(&mut self, name: String) -> Result<TaskSignature, SignatureError> {
        self.expect(Punct::OpenParen)?;
        let mut param_names = HashSet::new();
        let params = self.parse_list(Punct::CloseParen, true, |parser| {
            let (name, offset) = parser.expect_name("a parameter name")?;
            if !param_names.insert(name.clone()) {
                return Err(SignatureError::DuplicateParam {
                    at: parser.at(offset),
                    name,
                });
            }
            parser.expect(Punct::Colon)?;
            let ty = parser.parse_type(1)?;
            Ok(Param { name, ty })
        })?;
        self.expect(Punct::Arrow)?;
        let ret = self.parse_type(1)?;
        self.expect(Punct::Semicolon)?;
        Ok(TaskSignature { name, params, ret })
    }

    /// Parses a type nested `depth` levels deep (1 for a parameter's or the
    /// result's own type).
    fn parse_type(&mut self, depth: usize) -> Result<Type, SignatureError> {
        let token = self.next()?;
        if depth > TYPE_DEPTH_MAX {
            return Err(SignatureError::TooDeep {
                at: self.at(token.offset),
                max: TYPE_DEPTH_MAX,
            });
        }
        let word = match token.kind {
            TokenKind::Word(word) => word,
            _ => return Err(self.unexpected(token, "a type")),
        };
        let ty = match word {
            "unit" => Type::Unit,
            "bool" => Type::Bool,
            "i8" => Type::I8,
            "i16" => Type::I16,
            "i32" => Type::I32,
            "i64" => Type::I64,
            "u8" => Type::U8,
            "u16" => Type::U16,
            "u32" => Type::U32,
            "u64" => Type::U64,
            "f32" => Type::F32,
            "f64" => Type::F64,
            "char" => Type::Char,
            "string" => Type::String,
            "option" => {
                self.expect(Punct::OpenAngle)?;
                let inner = self.parse_type(depth + 1)?;
                self.expect(Punct::CloseAngle)?;
                Type::Option(Box::new(inner))
            }
            "list" => {
                self.expect(Punct::OpenAngle)?;
                let inner = self.parse_type(depth + 1)?;
                self.expect(Punct::CloseAngle)?;
                Type::List(Box::new(inner))
            }
            "map" => {
                self.expect(Punct::OpenAngle)?;
                let key = self.parse_type(depth + 1)?;
                self.expect(Punct::Comma)?;
                let value = self.parse_type(depth + 1)?;
                self.expect(Punct::CloseAngle)?;
                Type::Map(Box::new(key), Box::new(value))
            }
            "tuple" => {
                self.expect(Punct::OpenAngle)?;
                let elements = self.parse_list(Punct::CloseAngle, true, |parser| {
                    parser.parse_type(depth + 1)
                })?;
                Type::Tuple(elements)
            }
            "struct" => {
                let (name, _) = self.expect_name("a struct name")?;
                self.expect(Punct::OpenBrace)?;
                let fields = self.parse_fields(depth, &format!("struct `{name}`"))?;
                Type::Struct { name, fields }
            }
            "enum" => self.parse_enum(depth)?,
            other => {
                return Err(SignatureError::UnknownType {
                    at: self.at(token.offset),
                    found: shorten(other),
                });
            }
        };
        Ok(ty)
    }

    /// Parses `[ field { "," field } ] "}"` of a struct or struct variant at
    /// `depth`; `owner` names it for the duplicate-field error.
    fn parse_fields(&mut self, depth: usize, owner: &str) -> Result<Vec<Field>, SignatureError> {
        let mut names = HashSet::new();
        self.parse_list(Punct::CloseBrace, true, |parser| {
            let (name, offset) = parser.expect_name("a field name")?;
            if !names.insert(name.clone()) {
                return Err(SignatureError::DuplicateField {
                    at: parser.at(offset),
                    name,
                    owner: owner.to_owned(),
                });
            }
            parser.expect(Punct::Colon)?;
            let ty = parser.parse_type(depth + 1)?;
            Ok(Field { name, ty })
        })
    }

    /// Parses `NAME "{" variant { "," variant } "}"` after `enum`.
    fn parse_enum(&mut self, depth: usize) -> Result<Type, SignatureError> {
        let (enum_name, _) = self.expect_name("an enum name")?;
        self.expect(Punct::OpenBrace)?;
        let close = self.peek()?;
        if close.kind == TokenKind::Punct(Punct::CloseBrace) {
            return Err(SignatureError::EmptyEnum {
                at: self.at(close.offset),
                name: enum_name,
            });
        }
        let mut names = HashSet::new();
        let variants = self.parse_list(Punct::CloseBrace, false, |parser| {
            let (name, offset) = parser.expect_name("a variant name")?;
            if !names.insert(name.clone()) {
                return Err(SignatureError::DuplicateVariant {
                    at: parser.at(offset),
                    name,
                    enum_name: enum_name.clone(),
                });
            }
            let fields = if parser.eat(Punct::OpenParen)? {
                VariantFields::Tuple(parser.parse_list(Punct::CloseParen, false, |parser| {
                    parser.parse_type(depth + 1)
                })?)
            } else if parser.eat(Punct::OpenBrace)? {
                let owner = format!("variant `{enum_name}::{name}`");
                VariantFields::Struct(parser.parse_fields(depth, &owner)?)
            } else {
                VariantFields::Unit
            };
            Ok(Variant { name, fields })
        })?;
        Ok(Type::Enum {
            name: enum_name,
            variants,
        })
    }
}
