//! Byte-level mutations of real frames for the decoder fuzz properties.

use proptest::prelude::*;

/// One edit of a frame.
#[derive(Clone, Debug)]
pub enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
}

/// A random edit, biased towards bytes that matter to JSON.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to JSON and to the decoders, plus anything at all.
    let interesting = prop_oneof![
        Just(b'"'),
        Just(b','),
        Just(b':'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b']'),
        Just(b'\\'),
        Just(b'-'),
        Just(b'.'),
        Just(b'e'),
        Just(b'0'),
        Just(b'9'),
        Just(b' '),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), interesting.clone()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), interesting).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
    ]
}

/// Applies the edits in order (indices wrap around the current length).
pub fn mutate(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        match *m {
            Mutation::Flip { at, bit } => {
                let i = at % b.len();
                b[i] ^= 1 << bit;
            }
            Mutation::Set { at, byte } => {
                let i = at % b.len();
                b[i] = byte;
            }
            Mutation::Truncate { at } => b.truncate(at % b.len()),
            Mutation::Insert { at, byte } => {
                let i = at % (b.len() + 1);
                b.insert(i, byte);
            }
            Mutation::Delete { at } => {
                let i = at % b.len();
                b.remove(i);
            }
        }
    }
    b
}
