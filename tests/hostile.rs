//! Hostile files: each ends in a clear error, never a panic or a blown memory.
