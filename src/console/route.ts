/** Where the console is: `#/<section>/<id>?<query>` (the page itself is always /console). */
export interface Route {
  path: string;
  parts: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#/, "") || "/fleet";
  const [path = "/fleet", search = ""] = raw.split("?");
  return { path, parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

export const go = (path: string) => {
  location.hash = path;
};
