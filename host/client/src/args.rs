//! Task arguments: a value (any serde type, encoded by the declared type of
//! its parameter, so `1` is a fine argument for an `i64` parameter) or a
//! [`Future`] (its result is passed in, without coming to the client).
//! A tuple of arguments is [`Args`].

use crate::Future;
use serde::Serialize;
use weft_schema::graph::GraphArg;
use weft_schema::signature::Type;

/// One argument of a task call.
pub trait Arg {
    /// Appends the graph arguments for a parameter of type `ty` (one, or
    /// several for a list of futures).
    fn to_graph_args(&self, ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String>;
}

impl<T: Serialize> Arg for T {
    fn to_graph_args(&self, ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String> {
        let value = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        weft_schema::json::encode(ty, &value, &mut bytes).map_err(|e| e.to_string())?;
        out.push(GraphArg::Value(bytes));
        Ok(())
    }
}

impl<R> Arg for Future<R> {
    fn to_graph_args(&self, _ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String> {
        out.push(GraphArg::Key(self.key()));
        Ok(())
    }
}

impl<R> Arg for &Future<R> {
    fn to_graph_args(&self, _ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String> {
        out.push(GraphArg::Key(self.key()));
        Ok(())
    }
}

/// A list of futures for a `list<T>` parameter (`Vec<T>` in Rust): the task
/// receives their results as one list. Built by [`futures_list`].
#[derive(Debug)]
pub struct FutureList<'a, R>(&'a [Future<R>]);

/// Passes the results of `futures` as one list argument: the encoding of a
/// list is its length followed by its elements, so the length goes as a
/// value and each result is spliced in after it, without coming to the
/// client.
pub fn futures_list<R>(futures: &[Future<R>]) -> FutureList<'_, R> {
    FutureList(futures)
}

impl<R> Arg for FutureList<'_, R> {
    fn to_graph_args(&self, ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String> {
        if !matches!(ty, Type::List(_)) {
            return Err(format!(
                "a list of futures needs a list parameter, this one is {ty}"
            ));
        }
        out.push(GraphArg::Value(
            (self.0.len() as u64).to_le_bytes().to_vec(),
        ));
        out.extend(self.0.iter().map(|f| GraphArg::Key(f.key())));
        Ok(())
    }
}

/// The arguments of a task call: a tuple of [`Arg`]s (`()` for none).
pub trait Args {
    /// How many there are.
    fn count(&self) -> usize;
    /// Appends argument `index`'s graph arguments for a parameter of type `ty`.
    fn arg(&self, index: usize, ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String>;
}

impl Args for () {
    fn count(&self) -> usize {
        0
    }
    fn arg(&self, index: usize, _ty: &Type, _out: &mut Vec<GraphArg>) -> Result<(), String> {
        Err(format!("no argument {index}"))
    }
}

macro_rules! tuple_args {
    ($count:expr; $($name:ident $index:tt),+) => {
        impl<$($name: Arg),+> Args for ($($name,)+) {
            fn count(&self) -> usize {
                $count
            }
            fn arg(&self, index: usize, ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String> {
                match index {
                    $($index => self.$index.to_graph_args(ty, out),)+
                    _ => Err(format!("no argument {index}")),
                }
            }
        }
    };
}

tuple_args!(1; A 0);
tuple_args!(2; A 0, B 1);
tuple_args!(3; A 0, B 1, C 2);
tuple_args!(4; A 0, B 1, C 2, D 3);
tuple_args!(5; A 0, B 1, C 2, D 3, E 4);
tuple_args!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_args!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_args!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// Arguments given as a list (all of one type), e.g. JSON values read from
/// a file.
impl<T: Arg> Args for Vec<T> {
    fn count(&self) -> usize {
        self.len()
    }
    fn arg(&self, index: usize, ty: &Type, out: &mut Vec<GraphArg>) -> Result<(), String> {
        self.get(index)
            .ok_or_else(|| format!("no argument {index}"))?
            .to_graph_args(ty, out)
    }
}
