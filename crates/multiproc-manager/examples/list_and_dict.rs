//! Seed 004's Manager example: a child changes a manager's list and dict, and the parent
//! sees the changes.
//!
//! ```text
//! cargo run -p multiproc-manager --example list_and_dict
//! ```
//!
//! Prints `[1, 100, 3]` and `{"a": "Initial", "b": "Updated"}`.

use multiproc_manager::{DictProxy, ListProxy, Manager};
use multiproc_process::Process;

fn worker((l, d): (ListProxy<i64>, DictProxy<String, String>)) {
    l.set(1, &100).expect("l[1] = 100");
    d.set(&"b".into(), &"Updated".into())
        .expect("d['b'] = 'Updated'");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    multiproc_process::init();
    let manager = Manager::start()?;
    let l = manager.list_from(&[1, 2, 3])?;
    let d = manager.dict_from(&[
        ("a".to_string(), "Initial".to_string()),
        ("b".to_string(), "Original".to_string()),
    ])?;
    let mut p = Process::new(worker, (l.clone(), d.clone()));
    p.start()?;
    p.join()?;
    println!("{:?}", l.to_vec()?);
    let items: Vec<String> = d
        .items()?
        .into_iter()
        .map(|(k, v)| format!("{k:?}: {v:?}"))
        .collect();
    println!("{{{}}}", items.join(", "));
    manager.shutdown()?;
    Ok(())
}
