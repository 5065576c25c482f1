// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The ONNX Runtime side of the benchmark (tests/bench/run-bench.py): npm's
// onnxruntime-node, CPU execution provider, all graph optimizations, runs
// MODEL on the first BATCH images of INPUT.f32 as one N x 3 x 224 x 224
// tensor, once to warm up and then RUNS timed times, on THREADS intra-op
// threads (inter-op 1, sequential execution: one operator at a time, as our
// engine runs them). Usage:
//   node ort-bench.mjs MODEL INPUT.f32 THREADS BATCH RUNS [OUTPUT.f32]
// INPUT.f32 holds K >= BATCH images of 3 x 224 x 224 float32 (NCHW, native
// endian). Prints on stdout, one per line:
//   load_ms L          session creation
//   run_ms T1 T2 ...   each timed run (whole batch), milliseconds
//   vmhwm_kb R         this process's peak resident set (/proc/self/status)
// and with OUTPUT.f32 writes the last run's BATCH x C outputs there.
// `node ort-bench.mjs --baseline` only imports onnxruntime-node and prints
// vmhwm_kb: the footprint of node and the runtime without a model.

import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const IMAGE_VALUES = 3 * 224 * 224;

function peakRssKb() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
  return m ? Number(m[1]) : -1;
}

async function main(argv) {
  if (argv.length === 1 && argv[0] === '--baseline') {
    console.log(`vmhwm_kb ${peakRssKb()} (${typeof ort.InferenceSession})`);
    return 0;
  }
  if (argv.length !== 5 && argv.length !== 6) {
    console.error('usage: node ort-bench.mjs MODEL INPUT.f32 THREADS BATCH RUNS [OUTPUT.f32]');
    return 2;
  }
  const [modelPath, inputPath] = argv;
  const threads = Number(argv[2]);
  const batch = Number(argv[3]);
  const runs = Number(argv[4]);
  const outputPath = argv[5];
  if (!(threads >= 1 && batch >= 1 && runs >= 1)) {
    console.error('ort-bench: THREADS, BATCH and RUNS must be positive integers');
    return 2;
  }
  const raw = readFileSync(inputPath);
  if (raw.byteLength < batch * IMAGE_VALUES * 4) {
    console.error(`${inputPath}: ${raw.byteLength} bytes hold fewer than ${batch} images`);
    return 1;
  }
  // Copy into an aligned buffer: Buffer slices may start at any byte offset.
  const input = new Float32Array(batch * IMAGE_VALUES);
  new Uint8Array(input.buffer).set(raw.subarray(0, input.byteLength));

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const t1 = process.hrtime.bigint();
  console.log(`load_ms ${(Number(t1 - t0) / 1e6).toFixed(1)}`);

  const feeds = {
    [session.inputNames[0]]: new ort.Tensor('float32', input, [batch, 3, 224, 224]),
  };
  let result = await session.run(feeds); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    result = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  console.log(`run_ms ${times.map((t) => t.toFixed(3)).join(' ')}`);
  if (outputPath) {
    const out = result[session.outputNames[0]];
    writeFileSync(outputPath, Buffer.from(Float32Array.from(out.data).buffer));
  }
  console.log(`vmhwm_kb ${peakRssKb()}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`ort-bench: ${err.message ?? err}`); process.exitCode = 1; });
