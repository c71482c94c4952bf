//! One graph, several languages, a real cluster: results flow from Rust to
//! C, AssemblyScript, Zig, Go, Python and JavaScript tasks and back on a
//! `weft scheduler` with two `weft worker` processes (secure with
//! `WEFT_TEST_SECURE=1`); uncaught Python and JavaScript exceptions reach
//! the client as panics, and the workers go on.

use crate::memory::bounded;
use crate::processes::{Cluster, tokio_runtime};
use weft_guest_testkit::{Account, Summary};

#[test]
fn results_flow_between_tasks_in_seven_languages_on_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let assemblyscript = std::fs::read(super::build_example("assemblyscript", dir.path())).unwrap();
    let zig = std::fs::read(super::build_example("zig", dir.path())).unwrap();
    let go = std::fs::read(super::build_example("go", dir.path())).unwrap();
    let python = std::fs::read(super::build_example("python", dir.path())).unwrap();
    let javascript = std::fs::read(super::build_example("javascript", dir.path())).unwrap();
    let c = crate::c_guest::build_c_module();
    let rust = std::fs::read(weft_guest_artifacts::TESTKIT).unwrap();
    let cluster = Cluster::start(2, &[], &[]);
    tokio_runtime().block_on(async {
        let client = cluster.client().await;
        let rust = client.upload_module(rust).await.unwrap();
        let c = client.upload_module(c).await.unwrap();
        let assemblyscript = client.upload_module(assemblyscript).await.unwrap();
        let zig = client.upload_module(zig).await.unwrap();
        let go = client.upload_module(go).await.unwrap();
        let python = client.upload_module(python).await.unwrap();
        let javascript = client.upload_module(javascript).await.unwrap();

        // Numbers: Rust -> AssemblyScript -> Zig -> C -> Go.
        let one = client.submit::<i64>(&rust, "inc", (41i64,)).unwrap();
        let two = client
            .submit::<i64>(&assemblyscript, "add", (&one, 100i64))
            .unwrap();
        let three = client.submit::<i64>(&zig, "inc", (&two,)).unwrap();
        let four = client.submit::<i64>(&c, "add", (&three, &one)).unwrap();
        let five = client.submit::<i64>(&go, "add", (&four, &two)).unwrap();
        let six = client.submit::<i64>(&python, "add", (&five, &one)).unwrap();
        let seven = client
            .submit::<i64>(&javascript, "add", (&six, -1000i64))
            .unwrap();
        assert_eq!(
            bounded(seven.result()).await.unwrap(),
            42 + (42 + 100 + 1) + (42 + 100) + 42 - 1000
        );

        // Lists: C filters, AssemblyScript and Go filter again, Zig picks.
        let xs: Vec<i64> = (-30..=30).collect();
        let threes = client
            .submit::<Vec<i64>>(&c, "keep_multiples_of_3", (xs,))
            .unwrap();
        let again = client
            .submit::<Vec<i64>>(&assemblyscript, "keep_multiples_of_3", (&threes,))
            .unwrap();
        let once_more = client
            .submit::<Vec<i64>>(&go, "keep_multiples_of_3", (&again,))
            .unwrap();
        let first = client
            .submit::<Option<i64>>(&zig, "first_positive", (&once_more,))
            .unwrap();
        assert_eq!(bounded(first.result()).await.unwrap(), Some(3));

        // Records: AssemblyScript, Zig and Go filter, Rust summarizes.
        let rows: Vec<Account> = [("ann", -10), ("bob", 5), ("ann", -20), ("cy", -1)]
            .into_iter()
            .map(|(name, balance)| Account {
                name: name.into(),
                balance,
            })
            .collect();
        let negative = client
            .submit::<Vec<Account>>(&assemblyscript, "negative_accounts", (rows,))
            .unwrap();
        let still = client
            .submit::<Vec<Account>>(&zig, "negative_accounts", (&negative,))
            .unwrap();
        let go_too = client
            .submit::<Vec<Account>>(&go, "negative_accounts", (&still,))
            .unwrap();
        let python_too = client
            .submit::<Vec<Account>>(&python, "negative_accounts", (&go_too,))
            .unwrap();
        let javascript_too = client
            .submit::<Vec<Account>>(&javascript, "negative_accounts", (&python_too,))
            .unwrap();
        let summary = client
            .submit::<Summary>(&rust, "summarize", (&javascript_too,))
            .unwrap();
        let summary = bounded(summary.result()).await.unwrap();
        assert_eq!(summary.count, 3);
        assert_eq!(summary.total, -31);
        assert_eq!(summary.by_name.get("ann"), Some(&-30));
        assert_eq!(summary.largest.map(|a| a.name), Some("cy".to_string()));

        // A Python panic is the task's typed error; the workers go on.
        let raised = client
            .submit::<i64>(&python, "raises", ("on a worker".to_string(),))
            .unwrap();
        let error = bounded(raised.result()).await.unwrap_err().to_string();
        assert!(
            error.contains("ValueError: on a worker") && error.contains("panic"),
            "{error}"
        );
        let thrown = client
            .submit::<i64>(&javascript, "raises", ("in JavaScript".to_string(),))
            .unwrap();
        let error = bounded(thrown.result()).await.unwrap_err().to_string();
        assert!(
            error.contains("Error: in JavaScript") && error.contains("panic"),
            "{error}"
        );
        let after = client.submit::<i64>(&python, "inc", (&seven,)).unwrap();
        let after = client.submit::<i64>(&javascript, "inc", (&after,)).unwrap();
        assert_eq!(
            bounded(after.result()).await.unwrap(),
            42 + (42 + 100 + 1) + (42 + 100) + 42 - 1000 + 2
        );
    });
}
