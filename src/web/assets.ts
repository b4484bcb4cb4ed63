// The dashboard's bundled files: the macro runs when this module is
// transpiled (at build time in the executable, at first load from source).
import { bundleDashboard } from "./bundle.ts" with { type: "macro" };

export const bundle = bundleDashboard();
