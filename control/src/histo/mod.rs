//! Tstat's histograms (`-H`) on the control side: the `-H` file, the merge of the workers'
//! interval chunks, and the `NNN/` and `LAST/` directories.
//!
//! The workers count (see `engine::histo`); here the chunks of all workers are summed per
//! interval and written once complete. Owns no clock: interval boundaries come with the chunks.

pub mod conf;
pub mod merge;
pub mod rrd;
pub mod write;

pub use conf::HistoSpec;
pub use merge::{IntervalHisto, Merger, Samples};

use engine::histo::HistoChunk;
use std::path::PathBuf;

/// The writer thread's histogram output: merges chunks and writes complete intervals.
#[derive(Debug)]
pub struct HistoOutput {
    dir: PathBuf,
    spec: HistoSpec,
    merger: Merger,
    written: Vec<PathBuf>,
}

impl HistoOutput {
    /// Intervals of `workers` workers, written below `dir` (the `<date>.out` directory).
    pub fn new(dir: PathBuf, spec: HistoSpec, workers: usize) -> HistoOutput {
        HistoOutput {
            dir,
            spec,
            merger: Merger::new(workers),
            written: Vec::new(),
        }
    }

    /// Takes one chunk; writes its interval if it completes it, and returns that interval
    /// (the merged bins and sample statistics an RRD update reads).
    pub fn chunk(&mut self, c: &HistoChunk) -> anyhow::Result<Option<IntervalHisto>> {
        let Some(iv) = self.merger.add(c) else {
            return Ok(None);
        };
        let d = write::write_interval(&self.dir, &self.spec, &iv)?;
        self.written.push(d);
        Ok(Some(iv))
    }

    /// The directories written so far.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Fails if some interval never completed (a worker stopped early).
    pub fn finish(&self) -> anyhow::Result<()> {
        match self.merger.incomplete() {
            0 => Ok(()),
            n => anyhow::bail!("{n} histogram interval(s) incomplete"),
        }
    }
}
