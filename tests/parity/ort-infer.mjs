// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The independent reference runtime of the parity tests: ONNX Runtime (npm's
// onnxruntime-node, CPU execution provider, default graph optimizations) runs
// MODEL on K preprocessed images and writes their logits. Usage:
//   node ort-infer.mjs MODEL INPUT.f32 OUTPUT.f32
// INPUT.f32 holds K x 3 x 224 x 224 float32 values (NCHW, native endian);
// OUTPUT.f32 receives K x C float32 values, C the model's class count. Each
// image runs as its own batch of 1, so models with a static batch of 1 work;
// the class count is printed on stdout as "classes C".

import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const IMAGE_VALUES = 3 * 224 * 224;

async function main(argv) {
  if (argv.length !== 3) {
    console.error('usage: node ort-infer.mjs MODEL INPUT.f32 OUTPUT.f32');
    return 2;
  }
  const [modelPath, inputPath, outputPath] = argv;
  const raw = readFileSync(inputPath);
  if (raw.byteLength === 0 || raw.byteLength % (IMAGE_VALUES * 4) !== 0) {
    console.error(`${inputPath}: ${raw.byteLength} bytes is not a multiple of 3x224x224 float32`);
    return 1;
  }
  // Copy into an aligned buffer: Buffer slices may start at any byte offset.
  const input = new Float32Array(raw.byteLength / 4);
  new Uint8Array(input.buffer).set(raw);
  const images = input.length / IMAGE_VALUES;

  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
  });
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  const chunks = [];
  let classes = 0;
  for (let i = 0; i < images; i++) {
    const data = input.subarray(i * IMAGE_VALUES, (i + 1) * IMAGE_VALUES);
    const feeds = { [inName]: new ort.Tensor('float32', data, [1, 3, 224, 224]) };
    const result = await session.run(feeds);
    const out = result[outName];
    classes = out.data.length;
    chunks.push(Float32Array.from(out.data));
  }
  const all = new Float32Array(images * classes);
  chunks.forEach((c, i) => all.set(c, i * classes));
  writeFileSync(outputPath, Buffer.from(all.buffer));
  console.log(`classes ${classes}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`ort-infer: ${err.message ?? err}`); process.exitCode = 1; });
