multiproc_process::setup!();
use multiproc_process::*;

fn sq(x: u64) -> u64 { x * x }

#[test]
fn smoke() {
    for m in StartMethod::ALL {
        let t = std::time::Instant::now();
        let mut p = get_context(m).process(sq, 7);
        p.start().unwrap();
        assert_eq!(p.result().unwrap(), 49, "{m}");
        eprintln!("{m}: {:?} exit {:?}", t.elapsed(), p.exitcode());
    }
}
