/** Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for through Accept. */

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority: number;
  cell(object: any): unknown;
}

/** Like apimachinery's HumanDuration in its short forms: 42s, 5m, 3h, 12d. */
function age(object: any): string {
  const created = Date.parse(object?.metadata?.creationTimestamp ?? "");
  if (!Number.isFinite(created)) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

const nameColumn: Column = { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 0, cell: (o) => o.metadata.name };
const ageColumn: Column = { name: "Age", type: "string", description: "CreationTimestamp is a timestamp representing the server time when this object was created.", priority: 0, cell: age };

const selectorText = (s: any) => Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");

const columns: Record<string, Column[]> = {
  deployments: [
    nameColumn,
    { name: "Ready", type: "string", description: "Number of the pod with ready state", priority: 0, cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}` },
    { name: "Up-to-date", type: "string", description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", priority: 0, cell: (o) => o.status?.updatedReplicas ?? 0 },
    { name: "Available", type: "string", description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", priority: 0, cell: (o) => o.status?.availableReplicas ?? 0 },
    ageColumn,
    { name: "Containers", type: "string", description: "Names of each container in the template.", priority: 1, cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: any) => c.name).join(",") },
    { name: "Images", type: "string", description: "Images referenced by each container in the template.", priority: 1, cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(",") },
    { name: "Selector", type: "string", description: "Label selector for pods.", priority: 1, cell: (o) => selectorText(o.spec?.selector) },
  ],
  configmaps: [nameColumn, { name: "Data", type: "string", description: "Data contains the configuration data.", priority: 0, cell: (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length }, ageColumn],
  namespaces: [nameColumn, { name: "Status", type: "string", description: "The status of the namespace", priority: 0, cell: (o) => o.status?.phase ?? "Active" }, ageColumn],
};

/** includeObject: None, Metadata (the default) or Object. */
export function toTable(resource: string, objects: any[], resourceVersion: string, includeObject: string | undefined, continueToken?: string) {
  const cols = columns[resource] ?? [nameColumn, ageColumn];
  const include = includeObject ?? "Metadata";
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion, ...(continueToken ? { continue: continueToken } : {}) },
    columnDefinitions: cols.map(({ cell: _cell, ...c }) => c),
    rows: objects.map((o) => ({
      cells: cols.map((c) => c.cell(o)),
      ...(include === "None"
        ? {}
        : { object: include === "Object" ? o : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata } }),
    })),
  };
}
