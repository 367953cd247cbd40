//! Progress bars for long loops (bootstrap replicates, evaluation items).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar with rate and ETA, drawn on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}
