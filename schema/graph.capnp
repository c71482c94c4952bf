# Weft task graphs: the message a client sends to the scheduler to submit
# tasks. See GRAPH.md next to this file for the rules a receiver checks and
# for the derivation of task keys; ABI.md ("Arguments") for how argument
# bytes reach a task.
#
# Messages use the standard Cap'n Proto serialization (a segment table, then
# the segments; not packed). The root of a message is a `Graph`.
#
# Changing this file: only add fields at the end of a struct (with the next
# ordinal), never renumber, retype or remove one. Regenerate the Rust code
# with `tools/regen-schema` and commit the result.

@0xda75eaf2a11ddc6d;

# A batch of tasks submitted together. The order of `tasks` carries no
# meaning: a task may refer to a task that comes after it. Keys are unique
# within a graph, and the references form no cycle.
struct Graph {
  tasks @0 :List(Task);
  # The tasks of the graph, at most 1,000,000 by default.
}

# One call of one task function of one module.
struct Task {
  key @0 :Data;
  # The task's identity: exactly 16 bytes. Other tasks of this graph or of
  # later graphs refer to this task's output by this key. For a pure task it
  # is the deterministic key of (module, function, args) (GRAPH.md, "Keys");
  # otherwise any key the client chooses that no other task uses, normally a
  # unique key derived from a random seed and a counter.

  module @1 :Data;
  # The module holding the task function: the BLAKE3 hash of the module's
  # WebAssembly bytes, exactly 32 bytes. The module must have been uploaded.

  function @2 :Text;
  # The task's name within the module, as in the export `weft_task.NAME`:
  # an ASCII identifier (a letter or `_`, then letters, digits and `_`), at
  # most 256 bytes by default.

  args @3 :List(Arg);
  # The arguments, in parameter order. The bytes the task receives are the
  # bytes of every argument concatenated, with nothing between them. At most
  # 1024 arguments by default.

  retries @4 :UInt32;
  # How many more times the task is run again after it fails (an error, a
  # panic, a trap), as Dask's `retries`. 0 = it fails on its first error.
  # Worker deaths are counted separately by the scheduler.

  pure @5 :Bool;
  # True if the task's output depends only on its module, function and
  # arguments, so that the scheduler may reuse the result of an identical
  # task instead of running it again. A pure task's key must be the
  # deterministic key of its module, function and arguments: the receiver
  # recomputes it and rejects the task if it differs. False: the key is
  # opaque to the receiver and the task is run for this graph only.
}

# One argument of a task.
struct Arg {
  union {
    value @0 :Data;
    # A literal value: bytes in the value encoding (ENCODING.md), passed as
    # they are. All literal values of a graph count against one limit
    # (256 MiB by default).

    key @1 :Data;
    # The output of another task, named by its 16-byte key: the task in this
    # graph with that key, or a task the scheduler already knows. The
    # output's bytes are spliced in at run time, and this task runs only
    # after that one has succeeded.
  }
}
