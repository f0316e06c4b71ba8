//! The integration-test binary: every test spawns its own spurlos (`spawn_app`) with its own
//! data directory on port 0, or runs the real binary where a process boundary matters.

mod api;
