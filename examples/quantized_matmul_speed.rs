//! Times one quantized matrix product on the CPU for several input row counts, through the
//! patched candle-core (see `patches/README.md`), and prints GOP/s. The weight shapes and types
//! are those of SmolLM2-135M Q4_1: the MLP's Q4_1 projections and the Q8_0 output layer. The
//! products run on a thread of rayon's pool, as mistral.rs runs a forward pass on the CPU, so
//! that no time goes to handing each product to the pool. Not a test: the figures go to
//! `docs/benchmarks.md`.
//!
//!     cargo run --example quantized_matmul_speed
//!
//! `CANDLE_DEQUANTIZE_MIN_ROWS=1` times the f32 path for every row count, and
//! `CANDLE_DEQUANTIZE_MIN_ROWS=100000` the quantized one.

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

const ROW_COUNTS: [usize; 8] = [1, 36, 64, 96, 128, 192, 256, 512];
/// Weights as (columns of the input, rows of the weight, type): the up and down projections
/// and the output layer, whose 49,152 rows are the vocabulary.
const WEIGHTS: [(usize, usize, GgmlDType); 3] =
    [(576, 1536, GgmlDType::Q4_1), (1536, 576, GgmlDType::Q4_1), (576, 49152, GgmlDType::Q8_0)];
const REPETITIONS: u32 = 20;

fn main() -> candle_core::Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .build()
        .map_err(|error| candle_core::Error::Msg(format!("failed to start a rayon pool: {error}")))?;
    pool.install(time_products)
}

fn time_products() -> candle_core::Result<()> {
    for (inner, outer, dtype) in WEIGHTS {
        let weights = Tensor::randn(0.1f32, 1.0, (outer, inner), &Device::Cpu)?;
        let matmul = QMatMul::from_qtensor(QTensor::quantize(&weights, dtype)?)?;
        for rows in ROW_COUNTS {
            let input = Tensor::randn(0f32, 1.0, (rows, inner), &Device::Cpu)?;
            for _ in 0..3 {
                matmul.forward(&input)?;
            }
            let start = Instant::now();
            for _ in 0..REPETITIONS {
                matmul.forward(&input)?;
            }
            let seconds = start.elapsed().as_secs_f64() / f64::from(REPETITIONS);
            let operations = 2.0 * (rows * inner * outer) as f64;
            println!(
                "{dtype:?} {rows:>4} rows x {inner} -> {outer}: {:>7.3} ms, {:>5.1} GOP/s",
                seconds * 1e3,
                operations / seconds / 1e9
            );
        }
    }
    Ok(())
}
