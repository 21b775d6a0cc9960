//! A child sets a shared [`Value`] and negates a shared [`Array`]; the parent sees both.
//!
//! Mirrors seed 004's "Value and Array" (`val.value = 100`, `arr[i] = -arr[i]`; the parent
//! prints `100` and `[-1.0, -2.0, -3.0]`).
//!
//! `cargo run -p multiproc --example value_array_negate`
//!
//! Same behaviour as Python. `Value('i', 0)` is `Value::new(0i32)` and `Array('d', ...)`
//! is `Array::from_slice(&[...f64])`; `arr[:]` is [`Array::to_vec`].

multiproc::setup!();

use multiproc::prelude::*;

fn worker((val, arr): (Value<i32>, Array<f64>)) {
    val.set(100);
    for i in 0..arr.len() {
        let x = arr.get(i).expect("in bounds");
        arr.set(i, -x).expect("in bounds");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let val = Value::new(0i32)?;
    let arr = Array::from_slice(&[1.0f64, 2.0, 3.0])?;
    let mut p = Process::new(worker, (val.clone(), arr.clone()));
    p.start()?;
    p.result()?;
    println!("{}", val.get()); // 100
    println!("{:?}", arr.to_vec()); // [-1.0, -2.0, -3.0]
    Ok(())
}
