//! Times one Q4_1 matrix product on the CPU for several input row counts, through the patched
//! candle-core (see `patches/README.md`), and prints GOP/s. The weight shapes are those of
//! SmolLM2-135M's MLP. Not a test: the figures go to `docs/benchmarks.md`.
//!
//!     cargo run --example quantized_matmul_speed
//!
//! `CANDLE_DEQUANTIZE_MIN_ROWS=1` times the f32 path for every row count, and
//! `CANDLE_DEQUANTIZE_MIN_ROWS=100000` the quantized one.

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

const ROW_COUNTS: [usize; 8] = [1, 36, 64, 96, 128, 192, 256, 512];
/// Weight shapes as (columns of the input, rows of the weight): the up and down projections.
const WEIGHT_SHAPES: [(usize, usize); 2] = [(576, 1536), (1536, 576)];
const REPETITIONS: u32 = 20;

fn main() -> candle_core::Result<()> {
    for (inner, outer) in WEIGHT_SHAPES {
        let weights = Tensor::randn(0.1f32, 1.0, (outer, inner), &Device::Cpu)?;
        let matmul = QMatMul::from_qtensor(QTensor::quantize(&weights, GgmlDType::Q4_1)?)?;
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
                "{rows:>4} rows x {inner} -> {outer}: {:>7.3} ms, {:>5.1} GOP/s",
                seconds * 1e3,
                operations / seconds / 1e9
            );
        }
    }
    Ok(())
}
