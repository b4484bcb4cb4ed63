/**
 * Marker types for values that CEL sees as something other than a plain JS
 * value. They live apart from the evaluator so that building an activation
 * does not load the CEL library.
 */
export class DurationValue {
  constructor(readonly ms: number) {}
}

export class TimestampValue {
  constructor(readonly date: Date) {}
}

export const celDuration = (ms: number) => new DurationValue(ms);
export const celTimestamp = (date: Date) => new TimestampValue(date);
