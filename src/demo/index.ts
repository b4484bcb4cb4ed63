// A tiny HTTP service to point opskit at in demos and end-to-end tests: a
// health check that can be broken on purpose, and Prometheus metrics. It runs
// as its own process (`opskit demo-service`) so tests can kill and restart it.
export { serveDemoService, runDemoService, type DemoService, type DemoServiceOptions } from "./service.ts";
