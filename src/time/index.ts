// Time as the program measures and waits for it: durations written by people
// ("5s", "1m30s") read into milliseconds, and an abortable wait. Showing a
// duration to people is presentation and stays in ui/ (formatMs).

export { parseDuration } from "./duration.ts";
export { sleep } from "./sleep.ts";
