//! A child changes a manager's list and dictionary; the parent sees the changes.
//!
//! Mirrors seed 004's "Manager" (`manager.list([1, 2, 3])` and `manager.dict({"a":
//! "Initial", "b": "Original"})`; the worker sets `l[1] = 100` and `d["b"] = "Updated"`).
//!
//! `cargo run -p multiproc --example manager_list_dict`
//!
//! Differs from Python: proxies are typed, created with initial contents by `list_from`/`dict_from`, and every call
//! returns a `Result`. `l[1] = 100` is [`ListProxy::set`]; printing a proxy reads its
//! contents first ([`ListProxy::to_vec`], [`DictProxy::items`]).

multiproc::setup!();

use std::collections::BTreeMap;

use multiproc::prelude::*;
use multiproc::{DictProxy, ListProxy};

fn worker((l, d): (ListProxy<i64>, DictProxy<String, String>)) {
    l.set(1, &100).expect("manager call");
    d.set(&"b".to_string(), &"Updated".to_string())
        .expect("manager call");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let l = manager.list_from(&[1i64, 2, 3])?;
    let d = manager.dict_from(&[
        ("a".to_string(), "Initial".to_string()),
        ("b".to_string(), "Original".to_string()),
    ])?;

    let mut p = Process::new(worker, (l.clone(), d.clone()));
    p.start()?;
    p.result()?;

    println!("{:?}", l.to_vec()?); // [1, 100, 3]
    let d: BTreeMap<String, String> = d.items()?.into_iter().collect();
    println!("{d:?}"); // {"a": "Initial", "b": "Updated"}
    manager.shutdown()?;
    Ok(())
}
