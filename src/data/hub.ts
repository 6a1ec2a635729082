/**
 * A small Hugging Face Hub client on top of `@huggingface/hub`: downloads files into the standard Hugging Face
 * cache layout, pins revisions, works offline from the cache or from a local folder, and never leaves a broken
 * cache entry behind.
 *
 * Cache layout (same as `huggingface_hub`, so caches can be shared):
 * ```
 * <cacheDir>/datasets--owner--name/
 *   blobs/<etag>                       file contents, named by the Hub's ETag (LFS sha256 or git oid)
 *   snapshots/<commit>/<path>          a relative symlink to ../../blobs/<etag> (a copy where links fail)
 *   refs/<revision>                    the commit a branch/tag name resolved to on the last online call
 * ```
 *
 * Hub endpoints used (through `@huggingface/hub`): `GET /{datasets/}{repo}/resolve/{rev}/{path}` with
 * `Range: bytes=0-0` for metadata (ETag / X-Linked-ETag, Content-Range, X-Repo-Commit), the same URL without a
 * range for the download, and `GET /api/{type}s/{repo}/tree/{rev}/{path}` for listings.
 *
 * @module
 */
import { downloadFile, fileDownloadInfo, listFiles } from "@huggingface/hub";
import { dirname, join, relative, resolve } from "node:path";
import { errorMessage, HubError } from "./errors.ts";

/** Kind of Hub repository. */
export type RepoType = "dataset" | "model" | "space";

/** Options for {@linkcode HubClient}. */
export interface HubClientOptions {
  /** Hub base URL; default env `HF_ENDPOINT` or "https://huggingface.co". */
  endpoint?: string;
  /** Cache root; default env `SSMLAB_CACHE`, then `HF_HUB_CACHE`, then "data/cache/hub". */
  cacheDir?: string;
  /** Never touch the network; default true when env `HF_HUB_OFFLINE` is "1", "true" or "yes". */
  offline?: boolean;
  /**
   * A folder holding the repository's files under their repo paths (a mirror). It is searched first, online
   * or offline; offline it is the main source.
   */
  localDir?: string;
  /** Access token; default env `HF_TOKEN`. */
  token?: string;
  /** Fetch implementation (default the global `fetch`). */
  fetch?: typeof fetch;
}

/** Options for {@linkcode HubClient.file}. */
export interface HubFileOptions {
  /** Branch, tag or 40-hex commit (default "main"). A commit pins the file: a cached copy is used offline-free. */
  revision?: string;
  /** Default "dataset". */
  repoType?: RepoType;
}

/** Options for {@linkcode HubClient.list}. */
export interface HubListOptions extends HubFileOptions {
  /** Folder inside the repo (default the root). */
  path?: string;
  /** List sub-folders too (default true). */
  recursive?: boolean;
}

/** One entry of {@linkcode HubClient.list}. */
export interface HubEntry {
  /** Path inside the repository. */
  path: string;
  /** File or folder. */
  type: "file" | "directory";
  /** Size in bytes (0 for folders). */
  size: number;
}

const COMMIT_RE = /^[0-9a-f]{40}$/;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Whether a path exists (file or folder). */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function fileSize(p: string): Promise<number | null> {
  try {
    const s = await Deno.stat(p);
    return s.isFile ? s.size : null;
  } catch {
    return null;
  }
}

function validateRepoPath(path: string, what = "path"): void {
  if (typeof path !== "string" || path === "" && what === "path") {
    throw new HubError(`The file ${what} must be a non-empty string, got "${path}".`);
  }
  if (path.startsWith("/") || path.split("/").some((p) => p === ".." || p === ".") || path.includes("\\")) {
    throw new HubError(`The ${what} "${path}" must be relative, use "/" and have no "." or ".." parts.`);
  }
}

function validateRepo(repo: string): void {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo)) {
    throw new HubError(`The repository id "${repo}" is not valid: expected "owner/name".`);
  }
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

async function writeAll(f: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += await f.write(chunk.subarray(off));
}

/**
 * Files from the Hugging Face Hub (or a mirror, a local folder, or the cache).
 *
 * @example
 * ```ts
 * import { HubClient } from "./hub.ts";
 * const hub = new HubClient({ cacheDir: "data/cache/hub" });
 * const p = await hub.file("Salesforce/wikitext", "wikitext-2-raw-v1/test-00000-of-00001.parquet");
 * const files = await hub.list("Salesforce/wikitext", { path: "wikitext-2-raw-v1" });
 * ```
 */
export class HubClient {
  /** Hub base URL, without a trailing slash. */
  readonly endpoint: string;
  /** Cache root (Hugging Face layout). */
  readonly cacheDir: string;
  /** Whether the network is never used. */
  readonly offline: boolean;
  /** Mirror folder searched first, if any. */
  readonly localDir?: string;
  readonly #token?: string;
  readonly #fetch: typeof fetch;

  /**
   * A client; unset options come from the environment (`HF_ENDPOINT`, `SSMLAB_CACHE`, `HF_HUB_CACHE`,
   * `HF_HUB_OFFLINE`, `HF_TOKEN`).
   */
  constructor(opts: HubClientOptions = {}) {
    this.endpoint = (opts.endpoint ?? env("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
    this.cacheDir = opts.cacheDir ?? env("SSMLAB_CACHE") ?? env("HF_HUB_CACHE") ?? "data/cache/hub";
    const off = env("HF_HUB_OFFLINE")?.toLowerCase();
    this.offline = opts.offline ?? (off === "1" || off === "true" || off === "yes");
    this.localDir = opts.localDir;
    this.#token = opts.token ?? env("HF_TOKEN");
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The cache folder of one repository, e.g. `<cacheDir>/datasets--Salesforce--wikitext`. */
  repoCacheDir(repo: string, repoType: RepoType = "dataset"): string {
    return join(this.cacheDir, [`${repoType}s`, ...repo.split("/")].join("--"));
  }

  /**
   * A local path to `path` of `repo` at `revision`: from `localDir`, the cache, or a download into the cache.
   * Throws a {@linkcode HubError} naming repo, path and revision on any failure.
   */
  async file(repo: string, path: string, opts: HubFileOptions = {}): Promise<string> {
    const revision = opts.revision ?? "main";
    const repoType = opts.repoType ?? "dataset";
    validateRepo(repo);
    validateRepoPath(path);
    const where = `"${path}" of ${repoType} "${repo}" at revision "${revision}"`;

    if (this.localDir) {
      const local = join(this.localDir, path);
      if (await fileSize(local) !== null) return local;
    }
    const storage = this.repoCacheDir(repo, repoType);
    const pinned = COMMIT_RE.test(revision);
    if (pinned) {
      const snap = join(storage, "snapshots", revision, path);
      if (await exists(snap)) return snap;
    }
    const cached = async (): Promise<string | null> => {
      const commit = pinned ? revision : await this.#readRef(storage, revision);
      if (!commit) return null;
      const snap = join(storage, "snapshots", commit, path);
      return (await exists(snap)) ? snap : null;
    };

    if (this.offline) {
      const hit = await cached();
      if (hit) return hit;
      const searched = [
        ...(this.localDir ? [`the local folder "${resolve(this.localDir)}"`] : []),
        `the cache "${resolve(storage)}"`,
      ].join(" and ");
      throw new HubError(
        `Offline mode: the file ${where} was not found in ${searched}. ` +
          `Put the file at "${
            this.localDir ? join(this.localDir, path) : path
          }" or go online once to cache it.`,
        { repo, path, revision },
      );
    }

    // Online: ask the Hub for the file's ETag, size and commit (a 1-byte ranged GET).
    let repoCommit: string | null = null as string | null;
    const fetchImpl = this.#fetch;
    const recording: typeof fetch = async (input, init) => {
      const range = new Headers(init?.headers).get("range");
      if (range !== "bytes=0-0") {
        const res = await fetchImpl(input, init);
        repoCommit ??= res.headers.get("x-repo-commit");
        return res;
      }
      // The metadata probe: like huggingface_hub, read X-Repo-Commit / X-Linked-ETag from the Hub's own answer,
      // before any redirect to a CDN (whose headers lack them), then follow the redirect by hand.
      const url = new URL(input instanceof Request ? input.url : String(input));
      let res = await fetchImpl(url, { ...init, redirect: "manual" });
      const hubHeaders = new Headers(res.headers);
      for (
        let hops = 0;
        res.status >= 300 && res.status < 400 && res.headers.get("location") && hops < 5;
        hops++
      ) {
        const next = new URL(res.headers.get("location")!, url);
        await res.body?.cancel();
        const headers = new Headers(init?.headers);
        if (next.origin !== url.origin) headers.delete("authorization");
        res = await fetchImpl(next, { ...init, headers, redirect: "manual" });
      }
      repoCommit ??= hubHeaders.get("x-repo-commit") ?? res.headers.get("x-repo-commit");
      const headers = new Headers(res.headers);
      for (const h of ["x-linked-etag", "x-linked-size", "x-repo-commit"]) {
        const v = hubHeaders.get(h);
        if (v && !headers.has(h)) headers.set(h, v);
      }
      // Buffer the 1-byte probe so no response body is left open.
      const body = await res.arrayBuffer();
      return new Response(res.status === 204 || res.status === 304 ? null : body, {
        status: res.status,
        statusText: res.statusText,
        headers,
      });
    };
    const request = {
      repo: { type: repoType, name: repo },
      path,
      revision,
      hubUrl: this.endpoint,
      fetch: recording,
      ...(this.#token ? { accessToken: this.#token } : {}),
    } as const;
    let info;
    try {
      info = await fileDownloadInfo(request);
    } catch (e) {
      if (e instanceof TypeError) {
        const hit = await cached(); // network down: fall back to the last resolved snapshot
        if (hit) return hit;
      }
      throw new HubError(`Could not look up ${where} on ${this.endpoint}: ${errorMessage(e)}.`, {
        repo,
        path,
        revision,
        cause: e,
      });
    }
    if (!info) {
      throw new HubError(`The file ${where} does not exist on ${this.endpoint}.`, { repo, path, revision });
    }
    const etag = normalizeEtag(info.etag);
    if (!/^[\w.-]+$/.test(etag)) {
      throw new HubError(`The Hub answered an unusable ETag "${info.etag}" for ${where}.`, {
        repo,
        path,
        revision,
      });
    }
    // Without an X-Repo-Commit header (some mirrors), the snapshot folder is named by the revision itself.
    const commit: string = (repoCommit as string | null) ?? revision;
    const blob = join(storage, "blobs", etag);
    const snap = join(storage, "snapshots", commit, path);

    if (await fileSize(blob) !== info.size) {
      await Deno.mkdir(dirname(blob), { recursive: true });
      const tmp = `${blob}.${crypto.randomUUID().slice(0, 8)}.incomplete`;
      let written = 0;
      try {
        const remote = await downloadFile({ ...request, downloadInfo: info, xet: false });
        if (!remote) throw new Error("the Hub answered that the file does not exist");
        const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
        try {
          for await (const chunk of remote.stream()) {
            await writeAll(f, chunk as Uint8Array);
            written += (chunk as Uint8Array).length;
          }
        } finally {
          f.close();
        }
        if (written !== info.size) {
          throw new Error(`got ${written} bytes but the Hub announced ${info.size}`);
        }
        await Deno.rename(tmp, blob);
      } catch (e) {
        await Deno.remove(tmp).catch(() => {});
        throw new HubError(
          `Download of ${where} from ${this.endpoint} failed after ${written} of ${info.size} bytes: ` +
            `${errorMessage(e)}. Nothing was cached; run again to retry.`,
          { repo, path, revision, cause: e },
        );
      }
    }
    await this.#link(blob, snap);
    if (repoCommit && revision !== repoCommit) await this.#writeRef(storage, revision, repoCommit);
    return snap;
  }

  /** List the files (and folders) of `repo` under `opts.path`, sorted by path. Offline: from `localDir` or the cache. */
  async list(repo: string, opts: HubListOptions = {}): Promise<HubEntry[]> {
    const revision = opts.revision ?? "main";
    const repoType = opts.repoType ?? "dataset";
    const sub = (opts.path ?? "").replace(/\/+$/, "");
    const recursive = opts.recursive ?? true;
    validateRepo(repo);
    if (sub) validateRepoPath(sub, "folder");
    const where = `${repoType} "${repo}" at revision "${revision}"${sub ? ` under "${sub}"` : ""}`;

    if (this.offline) {
      const roots: string[] = [];
      if (this.localDir) roots.push(this.localDir);
      const storage = this.repoCacheDir(repo, repoType);
      const commit = COMMIT_RE.test(revision) ? revision : await this.#readRef(storage, revision);
      if (commit) roots.push(join(storage, "snapshots", commit));
      for (const root of roots) {
        const dir = join(root, sub);
        if (await exists(dir)) return await walk(root, sub, recursive);
      }
      throw new HubError(
        `Offline mode: cannot list ${where}: searched ${
          roots.length
            ? roots.map((r) => `"${resolve(join(r, sub))}"`).join(" and ")
            : "nothing (no localDir, no cached ref)"
        }.`,
        { repo, path: sub, revision },
      );
    }
    try {
      const out: HubEntry[] = [];
      for await (
        const e of listFiles({
          repo: { type: repoType, name: repo },
          path: sub || undefined,
          revision,
          recursive,
          hubUrl: this.endpoint,
          fetch: this.#fetch,
          ...(this.#token ? { accessToken: this.#token } : {}),
        })
      ) {
        out.push({ path: e.path, type: e.type === "directory" ? "directory" : "file", size: e.size ?? 0 });
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    } catch (e) {
      throw new HubError(`Could not list ${where} on ${this.endpoint}: ${errorMessage(e)}.`, {
        repo,
        path: sub,
        revision,
        cause: e,
      });
    }
  }

  async #readRef(storage: string, revision: string): Promise<string | null> {
    try {
      const c = (await Deno.readTextFile(join(storage, "refs", revision))).trim();
      return c || null;
    } catch {
      return null;
    }
  }

  async #writeRef(storage: string, revision: string, commit: string): Promise<void> {
    const ref = join(storage, "refs", revision);
    await Deno.mkdir(dirname(ref), { recursive: true });
    const tmp = `${ref}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeTextFile(tmp, commit);
    await Deno.rename(tmp, ref);
  }

  async #link(blob: string, snap: string): Promise<void> {
    if (await exists(snap)) return;
    await Deno.mkdir(dirname(snap), { recursive: true });
    try {
      await Deno.symlink(relative(dirname(snap), blob), snap);
    } catch {
      const tmp = `${snap}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      await Deno.copyFile(blob, tmp);
      await Deno.rename(tmp, snap);
    }
  }
}

async function walk(root: string, sub: string, recursive: boolean): Promise<HubEntry[]> {
  const out: HubEntry[] = [];
  const visit = async (rel: string) => {
    for await (const e of Deno.readDir(join(root, rel))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.name.endsWith(".incomplete")) continue;
      const st = await Deno.stat(join(root, p)).catch(() => null);
      if (!st) continue;
      if (st.isDirectory) {
        out.push({ path: p, type: "directory", size: 0 });
        if (recursive) await visit(p);
      } else out.push({ path: p, type: "file", size: st.size });
    }
  };
  await visit(sub);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
