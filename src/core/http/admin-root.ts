/**
 * Whether Node-RED's admin app sees a receiver's requests before the receiver does.
 *
 * node-red/red.js mounts the admin app at httpAdminRoot *before* RED.httpNode at httpNodeRoot, and
 * @node-red/editor-api puts `bodyParser.json({limit: apiMaxLength || '5mb'})` (and urlencoded) on the
 * admin app with `use()` and no path, i.e. for every request under httpAdminRoot, its own routes or not,
 * and whether or not the editor is disabled (the admin API stays). So with httpAdminRoot "/" (the
 * default) every JSON push is read, inflated and parsed by that parser first: the receiver cannot
 * answer a malformed body (the parser answers an HTML 400) nor stop a body that never ends.
 */

export interface HttpRootSettings {
  httpRoot?: string | false;
  httpAdminRoot?: string | false;
  httpNodeRoot?: string | false;
}

/** Node-RED's formatRoot: a leading and a trailing slash. */
function formatRoot(root: string): string {
  let r = root.startsWith('/') ? root : '/' + root;
  if (!r.endsWith('/')) r += '/';
  return r;
}

/**
 * True when the admin app is mounted at or above `path` (relative to httpNodeRoot). Node-RED's
 * red.js always leaves both roots formatted (or false); when neither is set, as in an embedding
 * application or a test harness that mounts the apps itself, nothing is known and nothing is claimed.
 */
export function adminAppCovers(settings: HttpRootSettings, path: string): boolean {
  const { httpRoot, httpAdminRoot, httpNodeRoot } = settings;
  if (httpRoot === false || httpAdminRoot === false || httpNodeRoot === false) return false;
  if (httpAdminRoot === undefined && httpNodeRoot === undefined) return false;
  const adminRoot = formatRoot(httpAdminRoot || httpRoot || '/');
  const nodeRoot = formatRoot(httpNodeRoot || httpRoot || '/');
  const url = formatRoot(nodeRoot + path.replace(/^\/+/, ''));
  return url.startsWith(adminRoot);
}
