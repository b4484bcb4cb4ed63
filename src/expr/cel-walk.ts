import type { parse } from "@bufbuild/cel";

/** A node of a parsed CEL expression. */
export type CelNode = ReturnType<typeof parse>["expr"];

/**
 * Calls `visit` on each child of a CEL node, with the names bound inside it:
 * a macro such as `exists(x, ...)` binds its iteration and accumulator
 * variables in its body. The one traversal the expression checks share; each
 * handles the nodes it cares about and leaves the rest to this.
 */
export function visitChildren(node: CelNode, bound: ReadonlySet<string>, visit: (child: CelNode | undefined, bound: ReadonlySet<string>) => void): void {
  const kind = node.exprKind;
  switch (kind.case) {
    case "selectExpr":
      return visit(kind.value.operand, bound);
    case "callExpr":
      visit(kind.value.target, bound);
      for (const arg of kind.value.args) visit(arg, bound);
      return;
    case "listExpr":
      for (const element of kind.value.elements) visit(element, bound);
      return;
    case "structExpr":
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === "mapKey") visit(entry.keyKind.value, bound);
        visit(entry.value, bound);
      }
      return;
    case "comprehensionExpr": {
      const c = kind.value;
      visit(c.iterRange, bound);
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean));
      for (const part of [c.accuInit, c.loopCondition, c.loopStep, c.result]) visit(part, inner);
      return;
    }
    default:
      return;
  }
}
