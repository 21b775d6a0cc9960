//! Four processes update a shared [`Value`] and [`Array`].
//!
//! Mirrors seed 003's "Shared Memory" (`worker` adds 1 to `Value('i', 0)` and doubles
//! each element of `Array('d', [1.0, 2.0, 3.0])`; four workers; expected 4 and
//! `[16.0, 32.0, 48.0]`).
//!
//! `cargo run -p multiproc --example value_array`
//!
//! Differs from Python: the seed's `shared_num.value += 1` is a read and a write with no
//! lock between them, so two workers can overwrite each other and the total can come out
//! below 4 (the seed's own text says to use locks). Here each update runs under the
//! value's (and the array's) own lock, so the result is always 4 and
//! `[16.0, 32.0, 48.0]`.

multiproc::setup!();

use multiproc::prelude::*;

fn worker((shared_num, shared_arr): (Value<i32>, Array<f64>)) {
    // A holder that died would hand the lock on with `OwnerDied`; take it anyway.
    *shared_num.lock().unwrap_or_else(|died| died.into_guard()) += 1;
    let mut arr = shared_arr.lock().unwrap_or_else(|died| died.into_guard());
    for x in arr.iter_mut() {
        *x *= 2.0;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let num = Value::new(0i32)?; // 'i': a C int
    let arr = Array::from_slice(&[1.0f64, 2.0, 3.0])?; // 'd': a C double

    let mut processes = Vec::new();
    for _ in 0..4 {
        let mut p = Process::new(worker, (num.clone(), arr.clone()));
        p.start()?;
        processes.push(p);
    }
    for p in &mut processes {
        p.result()?;
    }

    println!("Shared number: {}", num.get()); // 4 (each process increments by 1)
    println!("Shared array: {:?}", arr.to_vec()); // [16.0, 32.0, 48.0]
    Ok(())
}
