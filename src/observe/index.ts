// What leaves the process, made safe to leave: the process-wide secret
// redactor that command output, events, the journal, errors and CLI lines
// pass through.
export { MASK, MIN_SECRET_LENGTH, OutputRedactor, Redactor, redact, registerSecret, secrets } from "./redact.ts";
export { fanOut, type Sink } from "./sink.ts";
