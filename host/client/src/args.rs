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
    /// The argument for a parameter of type `ty`.
    fn to_graph_arg(&self, ty: &Type) -> Result<GraphArg, String>;
}

impl<T: Serialize> Arg for T {
    fn to_graph_arg(&self, ty: &Type) -> Result<GraphArg, String> {
        let value = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        weft_schema::json::encode(ty, &value, &mut bytes).map_err(|e| e.to_string())?;
        Ok(GraphArg::Value(bytes))
    }
}

impl<R> Arg for Future<R> {
    fn to_graph_arg(&self, _ty: &Type) -> Result<GraphArg, String> {
        Ok(GraphArg::Key(self.key()))
    }
}

impl<R> Arg for &Future<R> {
    fn to_graph_arg(&self, _ty: &Type) -> Result<GraphArg, String> {
        Ok(GraphArg::Key(self.key()))
    }
}

/// The arguments of a task call: a tuple of [`Arg`]s (`()` for none).
pub trait Args {
    /// How many there are.
    fn count(&self) -> usize;
    /// Argument `index` for a parameter of type `ty`.
    fn arg(&self, index: usize, ty: &Type) -> Result<GraphArg, String>;
}

impl Args for () {
    fn count(&self) -> usize {
        0
    }
    fn arg(&self, index: usize, _ty: &Type) -> Result<GraphArg, String> {
        Err(format!("no argument {index}"))
    }
}

macro_rules! tuple_args {
    ($count:expr; $($name:ident $index:tt),+) => {
        impl<$($name: Arg),+> Args for ($($name,)+) {
            fn count(&self) -> usize {
                $count
            }
            fn arg(&self, index: usize, ty: &Type) -> Result<GraphArg, String> {
                match index {
                    $($index => self.$index.to_graph_arg(ty),)+
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
