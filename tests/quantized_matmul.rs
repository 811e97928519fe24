//! The patched candle-core (patches/candle-core): the AVX2 Q4_1 dot product and the f32 path
//! for inputs of many rows must compute what the reference arithmetic computes.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

/// Weights of the shape of a small model's projection, with an offset so that Q4_1's
/// minimum term matters.
fn weights(columns: usize) -> Tensor {
    Tensor::randn(0.1f32, 1.0, (96, columns), &Device::Cpu).unwrap()
}

fn max_relative_error(actual: &Tensor, expected: &Tensor) -> f32 {
    let difference = (actual - expected).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    let scale = expected.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    difference / scale
}

/// Multiplies through the quantized matmul and through f32 arithmetic on the dequantized
/// weights, which is what the scalar kernels compute up to the rounding of the input.
fn compare(dtype: GgmlDType, rows: usize) -> f32 {
    compare_with_width(dtype, rows, 256)
}

fn compare_with_width(dtype: GgmlDType, rows: usize, columns: usize) -> f32 {
    let quantized = QTensor::quantize(&weights(columns), dtype).unwrap();
    let reference_weights = quantized.dequantize(&Device::Cpu).unwrap();
    let input = Tensor::randn(0f32, 1.0, (rows, columns), &Device::Cpu).unwrap();

    let actual = QMatMul::from_qtensor(quantized).unwrap().forward(&input).unwrap();
    let expected = input.matmul(&reference_weights.t().unwrap()).unwrap();
    assert_eq!(actual.dims(), &[rows, 96]);
    max_relative_error(&actual, &expected)
}

#[test]
fn q4_1_single_row_matches_reference() {
    // One row takes the quantized kernel, which rounds the input to 8 bits per value.
    let error = compare(GgmlDType::Q4_1, 1);
    assert!(error < 0.02, "relative error {error}");
}

#[test]
fn q4_1_many_rows_use_exact_f32() {
    // 128 rows take the dequantized f32 matmul: no input rounding, only float reordering.
    let error = compare(GgmlDType::Q4_1, 128);
    assert!(error < 1e-4, "relative error {error}");
}

#[test]
fn q8_0_and_q4_k_agree_with_reference() {
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q4K] {
        for rows in [1, 64] {
            let error = compare(dtype, rows);
            assert!(error < 0.02, "{dtype:?} with {rows} rows: relative error {error}");
        }
    }
}

#[test]
fn odd_block_count_matches_reference() {
    // 288 values are 9 blocks of 32, so a kernel that takes blocks in pairs must handle the
    // last one alone.
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        let error = compare_with_width(dtype, 1, 288);
        assert!(error < 0.02, "{dtype:?}: relative error {error}");
    }
}

#[test]
fn few_rows_match_reference() {
    // 2 to 95 rows take the quantized kernel column by column, each weight row against every
    // input row.
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        for rows in [2, 5, 31, 95] {
            let error = compare(dtype, rows);
            assert!(error < 0.02, "{dtype:?} with {rows} rows: relative error {error}");
        }
    }
}

#[test]
fn tiled_rows_equal_single_rows() {
    // Several rows go through kernels that take two weight rows and four input rows at a time,
    // one row through kernels that take four weight rows. All add their sums in the order of
    // the plain dot product, so every value is the same. 97 weight rows leave one over after
    // the pairs and the fours, and 11 input rows leave three.
    let weights = Tensor::randn(0.1f32, 1.0, (97, 256), &Device::Cpu).unwrap();
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        let matmul = QMatMul::from_qtensor(QTensor::quantize(&weights, dtype).unwrap()).unwrap();
        let input = Tensor::randn(0f32, 1.0, (11, 256), &Device::Cpu).unwrap();
        let together = matmul.forward(&input).unwrap().to_vec2::<f32>().unwrap();
        for (row, values) in together.iter().enumerate() {
            let alone = matmul.forward(&input.narrow(0, row, 1).unwrap()).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(values, &alone[0], "{dtype:?}, input row {row}");
        }
    }
}

/// Multiplies fixed weights and inputs through the one-row and tiled kernels of every type that
/// the patch gives a VNNI path, and returns all the products.
fn fixed_products() -> Vec<f32> {
    let values = |rows: usize, columns: usize, phase: f32| {
        let data: Vec<f32> = (0..rows * columns).map(|i| (i as f32 * 0.37 + phase).sin() + 0.1).collect();
        Tensor::from_vec(data, (rows, columns), &Device::Cpu).unwrap()
    };
    let weights = values(97, 288, 0.0);
    let mut products = Vec::new();
    for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q8_0] {
        let matmul = QMatMul::from_qtensor(QTensor::quantize(&weights, dtype).unwrap()).unwrap();
        for rows in [1, 3, 11] {
            let output = matmul.forward(&values(rows, 288, 1.0)).unwrap();
            products.extend(output.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        }
    }
    products
}

#[test]
fn vnni_and_avx2_products_are_equal() {
    // The kernels use AVX-512 VNNI where the CPU has it, and AVX2 with `CANDLE_DISABLE_VNNI=1`.
    // Both add the same integers, so the products of a copy of this test run with VNNI off
    // must equal its own.
    const OUTPUT_VARIABLE: &str = "DOCENT_TEST_PRODUCTS_FILE";
    if let Some(path) = std::env::var_os(OUTPUT_VARIABLE) {
        let bytes: Vec<u8> = fixed_products().iter().flat_map(|value| value.to_le_bytes()).collect();
        std::fs::write(path, bytes).unwrap();
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("avx2-products");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "vnni_and_avx2_products_are_equal", "--test-threads=1"])
        .env("CANDLE_DISABLE_VNNI", "1")
        .env(OUTPUT_VARIABLE, &path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let avx2: Vec<f32> = std::fs::read(&path)
        .unwrap()
        .chunks_exact(4)
        .map(|bytes| f32::from_le_bytes(bytes.try_into().unwrap()))
        .collect();
    let own = fixed_products();
    assert_eq!(own.len(), 97 * 15 * 3);
    assert_eq!(own, avx2);
}
