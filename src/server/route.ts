// What a route of the server is: a method and a path pattern, who may call
// it, and its handler. Each group of routes is a file (routes-*.ts) that
// app.ts puts together behind the guard.

/** What a handler may ask of the connection its request came on. */
export interface RequestContext {
  /** The caller's address. */
  peer(): string | undefined;
  /** The response stays open (a stream): no idle timeout closes it. */
  keepOpen(): void;
}

export type Handler = (request: Request, params: string[], context: RequestContext) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  pattern: RegExp;
  /** The endpoint's name in the request metrics. */
  endpoint: string;
  /**
   * "api": the bearer token; "webhook": the webhook token; "open": no token
   * (health, metrics, and the dashboard's page, which holds no data: the
   * page reads the API with the token like any client).
   */
  access: "open" | "webhook" | "api";
  handle: Handler;
}
