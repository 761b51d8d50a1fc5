//! xorshift64*: a small deterministic generator, so a given seed always
//! gives the same sequence (the fuzz test's inputs, `vigil-bench gen-log`'s
//! file). Not for anything that needs unpredictability.

pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value: zero is made odd, since
    /// xorshift never leaves the all-zero state).
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// One of `items` (not empty).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
