//! On-CPU time of SRP's server side, for a machine shared with other work: criterion's wall
//! clock counts the time this thread waits for a core, the kernel's per-thread schedstat does
//! not. `cargo run --release -p rampart-identity --example srp_cpu_time` (Linux only).

use rampart_identity::srp::{PasswordVerifier, ServerChallenge, MODULUS_BYTES};

const ROUNDS: u32 = 40;

/// Nanoseconds this thread has spent on a CPU.
fn on_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    stat.split_whitespace()
        .next()
        .expect("field")
        .parse()
        .expect("number")
}

fn measure(name: &str, mut f: impl FnMut()) {
    f();
    let (cpu, wall) = (on_cpu_ns(), std::time::Instant::now());
    for _ in 0..ROUNDS {
        f();
    }
    let cpu_ms = (on_cpu_ns() - cpu) as f64 / f64::from(ROUNDS) / 1e6;
    let wall_ms = wall.elapsed().as_secs_f64() * 1e3 / f64::from(ROUNDS);
    println!("{name}: {cpu_ms:.2} ms on CPU, {wall_ms:.2} ms wall");
}

fn main() {
    let verifier = PasswordVerifier::new("AbC123", "alice", "pw").expect("verifier");
    let other = PasswordVerifier::new("AbC123", "client", "a")
        .expect("a")
        .to_bytes();
    let srp_a: String = other[other.len() - MODULUS_BYTES..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    measure("ServerChallenge::begin (B, u, S, K)", || {
        std::hint::black_box(ServerChallenge::begin(&verifier, &srp_a).expect("begin"));
    });
    measure("PasswordVerifier::new (v = g^x)", || {
        std::hint::black_box(PasswordVerifier::new("AbC123", "alice", "pw").expect("verifier"));
    });
}
