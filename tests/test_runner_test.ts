/** Tests of scripts/test.ts, the `npm test` entry point (Mesa's software driver kept loaded). */
import { assertEquals } from "./assert.ts";
import { mesaSoftwareDriver, testEnv } from "../scripts/test.ts";

Deno.test("test runner: the software driver is prepended to LD_PRELOAD once, other entries kept", () => {
  const d = "/usr/lib/dri/swrast_dri.so";
  assertEquals(testEnv({ PATH: "/bin" }, d), { PATH: "/bin", LD_PRELOAD: d });
  assertEquals(testEnv({ LD_PRELOAD: "/a.so" }, d).LD_PRELOAD, `${d}:/a.so`);
  assertEquals(testEnv({ LD_PRELOAD: `/a.so ${d}` }, d).LD_PRELOAD, `${d}:/a.so`);
  assertEquals(testEnv({ PATH: "/bin" }, null), { PATH: "/bin" });
});

Deno.test("test runner: the driver is found only where swrast_dri.so exists", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assertEquals(mesaSoftwareDriver([dir]), null);
    Deno.writeFileSync(`${dir}/swrast_dri.so`, new Uint8Array(0));
    assertEquals(
      mesaSoftwareDriver(["/no/such/dir", dir]),
      Deno.build.os === "linux" ? `${dir}/swrast_dri.so` : null,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
