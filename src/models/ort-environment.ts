/**
 * onnxruntime's process-wide settings, applied before its native library loads: `onnx-model.ts` imports this module
 * ahead of `onnxruntime-node`.
 *
 * Telemetry off. onnxruntime's Linux build carries a telemetry client that, in every process that creates a session,
 * starts a thread, writes `mat-debug-<pid>.log` and `.ses` into the system temp folder and tries HTTPS uploads. A model
 * server, an evaluation step or a CLI of this project sends nothing anywhere, so `ORT_DISABLE_TELEMETRY` is set to 1
 * unless the environment already sets it.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export {};
