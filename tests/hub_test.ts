/**
 * HubClient against a loopback HTTP server that answers the Hub endpoints `@huggingface/hub` calls:
 * `GET /datasets/{repo}/resolve/{rev}/{path}` (ranged probe + full download) and
 * `GET /api/datasets/{repo}/tree/{rev}/{path}`.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { HubClient } from "../src/data/hub.ts";
import { HubError } from "../src/data/errors.ts";

const REPO = "acme/tiny";
const MAIN = "a".repeat(40);
const OLD = "b".repeat(40);
const enc = new TextEncoder();

interface FakeFile {
  body: Uint8Array;
  etag: string;
  /** Serve only the first half, then drop the connection. */
  breakMidway?: boolean;
  /** Served like an LFS/xet file: the Hub answers 302 to a CDN URL, with X-Linked-ETag and X-Repo-Commit on the 302. */
  lfs?: boolean;
}

/** revision → path → file */
function makeRepo(): Record<string, Record<string, FakeFile>> {
  const big = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
  return {
    [MAIN]: {
      "data/a.txt": { body: enc.encode("alpha\nbeta\n"), etag: "etag-a-main" },
      "data/b.txt": { body: enc.encode("bravo\n"), etag: "etag-b" },
      "broken.bin": { body: big, etag: "etag-broken", breakMidway: true },
      "lfs/shard.parquet": { body: big.slice(0, 1000), etag: "sha256-lfs-shard", lfs: true },
    },
    [OLD]: {
      "data/a.txt": { body: enc.encode("old alpha\n"), etag: "etag-a-old" },
    },
  };
}

/** A 206 answer for a `bytes=a-b` range header, or null when there is none. */
function rangeResponse(body: Uint8Array, range: string | null, headers: Headers): Response | null {
  const r = range?.match(/^bytes=(\d+)-(\d+)$/);
  if (!r) return null;
  const a = Number(r[1]), b = Math.min(Number(r[2]), body.length - 1);
  headers.set("Content-Range", `bytes ${a}-${b}/${body.length}`);
  return new Response(body.slice(a, b + 1), { status: 206, headers });
}

function startServer() {
  const repo = makeRepo();
  const refs: Record<string, string> = { main: MAIN, v1: OLD };
  const log: { method: string; path: string; range: string | null }[] = [];
  const served = { n: 0 };
  const resolveRev = (rev: string) => refs[rev] ?? (repo[rev] ? rev : null);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const range = req.headers.get("range");
    log.push({ method: req.method, path: decodeURIComponent(url.pathname), range });
    let m = url.pathname.match(/^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (m) {
      const commit = resolveRev(decodeURIComponent(m[2]));
      const file = m[1] === REPO && commit ? repo[commit][m[3]] : undefined;
      if (!commit || !file) {
        return new Response("Entry not found", { status: 404, headers: { "X-Error-Code": "EntryNotFound" } });
      }
      const size = file.body.length;
      if (file.lfs) {
        return new Response(null, {
          status: 302,
          headers: {
            Location: `/cdn/${commit}/${m[3]}`,
            "X-Linked-ETag": `"${file.etag}"`,
            "X-Linked-Size": String(size),
            "X-Repo-Commit": commit,
            ETag: `W/"pointer-oid"`,
          },
        });
      }
      const headers = new Headers({
        ETag: `"${file.etag}"`,
        "X-Repo-Commit": commit,
        "Accept-Ranges": "bytes",
      });
      const partial = rangeResponse(file.body, range, headers);
      if (partial) return partial;
      served.n++;
      if (file.breakMidway) {
        const half = file.body.slice(0, size / 2);
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(half);
          },
          pull(c) {
            c.close(); // ends early: fewer bytes than the announced Content-Length
          },
        });
        headers.set("Content-Length", String(size));
        return new Response(body, { status: 200, headers });
      }
      return new Response(file.body as Uint8Array<ArrayBuffer>, { status: 200, headers });
    }
    m = url.pathname.match(/^\/cdn\/([0-9a-f]{40})\/(.+)$/);
    if (m) {
      const file = repo[m[1]]?.[m[2]];
      if (!file) return new Response("no such object", { status: 404 });
      const headers = new Headers({ ETag: `"cdn-etag-differs"`, "Accept-Ranges": "bytes" });
      const partial = rangeResponse(file.body, range, headers);
      if (partial) return partial;
      served.n++;
      return new Response(file.body as Uint8Array<ArrayBuffer>, { status: 200, headers });
    }
    m = url.pathname.match(/^\/api\/datasets\/([^/]+\/[^/]+)\/tree\/([^/]+)\/?(.*)$/);
    if (m) {
      const commit = resolveRev(decodeURIComponent(m[2]));
      if (m[1] !== REPO || !commit) return Response.json({ error: "Repository not found" }, { status: 404 });
      const prefix = m[3] ? m[3].replace(/\/$/, "") + "/" : "";
      const entries = Object.entries(repo[commit])
        .filter(([p]) => p.startsWith(prefix))
        .map(([p, f]) => ({ type: "file", path: p, size: f.body.length, oid: f.etag }));
      return Response.json(entries);
    }
    return new Response("not found", { status: 404 });
  });
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  /** Full-body file responses served (a redirect is not a download). */
  const downloads = () => served.n;
  return { server, endpoint, log, downloads };
}

async function withServer(fn: (s: ReturnType<typeof startServer>, cacheDir: string) => Promise<void>) {
  const s = startServer();
  const cacheDir = await Deno.makeTempDir({ prefix: "ssmlab_hub_" });
  try {
    await fn(s, cacheDir);
  } finally {
    await s.server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

Deno.test("hub: download into the HF cache layout, then a cache hit with no second download", async () => {
  await withServer(async (s, cacheDir) => {
    const hub = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
    const p1 = await hub.file(REPO, "data/a.txt");
    assertEquals(await Deno.readTextFile(p1), "alpha\nbeta\n");
    const root = `${cacheDir}/datasets--acme--tiny`;
    assertEquals(p1, `${root}/snapshots/${MAIN}/data/a.txt`);
    assertEquals((await Deno.readTextFile(`${root}/refs/main`)).trim(), MAIN);
    assertEquals(await Deno.readTextFile(`${root}/blobs/etag-a-main`), "alpha\nbeta\n");
    assert((await Deno.lstat(p1)).isSymlink);
    assertEquals(s.downloads(), 1);

    const p2 = await hub.file(REPO, "data/a.txt");
    assertEquals(p2, p1);
    assertEquals(s.downloads(), 1, "second call must not download again");

    // A pinned commit that is cached makes no request at all.
    const before = s.log.length;
    const p3 = await hub.file(REPO, "data/a.txt", { revision: MAIN });
    assertEquals(p3, p1);
    assertEquals(s.log.length, before);
  });
});

Deno.test("hub: pinned revisions and tags resolve to their own snapshot", async () => {
  await withServer(async (s, cacheDir) => {
    const hub = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
    const pOld = await hub.file(REPO, "data/a.txt", { revision: OLD });
    assertEquals(await Deno.readTextFile(pOld), "old alpha\n");
    assert(pOld.includes(`/snapshots/${OLD}/`));
    const pTag = await hub.file(REPO, "data/a.txt", { revision: "v1" });
    assertEquals(pTag, pOld);
    assertEquals((await Deno.readTextFile(`${cacheDir}/datasets--acme--tiny/refs/v1`)).trim(), OLD);
    assertEquals(s.downloads(), 1, "the tag resolves to the already cached blob");
    const pMain = await hub.file(REPO, "data/a.txt");
    assertEquals(await Deno.readTextFile(pMain), "alpha\nbeta\n");
  });
});

Deno.test("hub: list files (tree endpoint), online and offline from the cache", async () => {
  await withServer(async (s, cacheDir) => {
    const hub = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
    const all = await hub.list(REPO);
    assertEquals(all.map((e) => e.path), ["broken.bin", "data/a.txt", "data/b.txt", "lfs/shard.parquet"]);
    const data = await hub.list(REPO, { path: "data" });
    assertEquals(data.map((e) => [e.path, e.size]), [["data/a.txt", 11], ["data/b.txt", 6]]);
    await hub.file(REPO, "data/a.txt");
    const off = new HubClient({ endpoint: s.endpoint, cacheDir, offline: true });
    assertEquals((await off.list(REPO, { path: "data" })).map((e) => e.path), ["data/a.txt"]);
  });
});

Deno.test("hub: offline mode reads the local folder, then the cache; a miss names the file and folders", async () => {
  await withServer(async (s, cacheDir) => {
    const local = await Deno.makeTempDir({ prefix: "ssmlab_local_" });
    try {
      await Deno.mkdir(`${local}/data`);
      await Deno.writeTextFile(`${local}/data/a.txt`, "local alpha\n");
      const before = s.log.length;
      const off = new HubClient({ endpoint: s.endpoint, cacheDir, offline: true, localDir: local });
      assertEquals(await Deno.readTextFile(await off.file(REPO, "data/a.txt")), "local alpha\n");
      const err = await assertRejects(() => off.file(REPO, "data/missing.txt"), HubError);
      assert(err.message.includes('"data/missing.txt"'), err.message);
      assert(err.message.includes(local), err.message);
      assert(err.message.includes("datasets--acme--tiny"), err.message);
      assertEquals(s.log.length, before, "offline mode made a request");

      // cached online, then readable offline via refs/main
      const on = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
      await on.file(REPO, "data/b.txt");
      const off2 = new HubClient({ endpoint: s.endpoint, cacheDir, offline: true });
      assertEquals(await Deno.readTextFile(await off2.file(REPO, "data/b.txt")), "bravo\n");
    } finally {
      await Deno.remove(local, { recursive: true });
    }
  });
});

Deno.test("hub: a download that fails midway leaves no cache entry and names repo, path, revision", async () => {
  await withServer(async (s, cacheDir) => {
    const hub = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
    const err = await assertRejects(() => hub.file(REPO, "broken.bin"), HubError);
    assert(err.message.includes("32768 of 65536 bytes"), err.message);
    for (const part of [`"broken.bin"`, `"${REPO}"`, `"main"`]) {
      assert(err.message.includes(part), err.message);
    }
    const root = `${cacheDir}/datasets--acme--tiny`;
    const blobs = [...Deno.readDirSync(`${root}/blobs`)].map((e) => e.name);
    assertEquals(blobs, [], `leftover blobs: ${blobs}`);
    let snapExists = true;
    try {
      Deno.statSync(`${root}/snapshots/${MAIN}/broken.bin`);
    } catch {
      snapExists = false;
    }
    assertEquals(snapExists, false);
  });
});

Deno.test("hub: an LFS file redirected to a CDN is cached under the Hub's commit and linked ETag", async () => {
  await withServer(async (s, cacheDir) => {
    const hub = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
    const p = await hub.file(REPO, "lfs/shard.parquet");
    const root = `${cacheDir}/datasets--acme--tiny`;
    assertEquals(p, `${root}/snapshots/${MAIN}/lfs/shard.parquet`);
    assertEquals(Deno.statSync(`${root}/blobs/sha256-lfs-shard`).size, 1000);
    assertEquals(Deno.readFileSync(p).length, 1000);
    assertEquals(s.downloads(), 1);
    await hub.file(REPO, "lfs/shard.parquet");
    assertEquals(s.downloads(), 1);
  });
});

Deno.test("hub: missing file and bad paths give clear errors", async () => {
  await withServer(async (s, cacheDir) => {
    const hub = new HubClient({ endpoint: s.endpoint, cacheDir, offline: false, token: "" });
    const e1 = await assertRejects(() => hub.file(REPO, "nope.txt", { revision: "main" }), HubError);
    assert(e1.message.includes('"nope.txt"') && e1.message.includes("does not exist"), e1.message);
    const e2 = await assertRejects(() => hub.file(REPO, "../etc/passwd"), HubError);
    assert(e2.message.includes('"../etc/passwd"'), e2.message);
  });
});
