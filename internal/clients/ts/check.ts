// Uses the TypeScript client generated from AURA's served OpenAPI document
// (api.d.ts, by openapi-typescript via generate.mjs; openapi-fetch makes the
// calls): it signs up and in, uploads a fundus image, reads the screening
// back and lists it with a comma-separated status filter. Compiled with
// `tsc --strict` and run with node by tests/clients_test.go; prints one JSON
// line of what it saw and exits 1 on any surprise.
import fs from "node:fs";
import { parseArgs } from "node:util";
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Screening = components["schemas"]["Screening"];
type ScreeningStatus = components["schemas"]["ScreeningStatus"];

const { values } = parseArgs({
  options: { base: { type: "string" }, image: { type: "string" }, email: { type: "string" } },
});
const base = values.base ?? "";
const email = values.email ?? "";
const password = "generated-client-Secret-42";

function fail(what: string, status: number, body: unknown): never {
  throw new Error(`${what}: ${status} ${JSON.stringify(body)}`);
}

// The document's list parameters are style: form, explode: false
// (status=a,b); openapi-fetch's default for arrays is explode: true.
const client = createClient<paths>({ baseUrl: base, querySerializer: { array: { style: "form", explode: false } } });

async function main(): Promise<void> {
  const reg = await client.POST("/auth/register", { body: { email, password, fullName: "TS Client" } });
  if (!reg.data) fail("register", reg.response.status, reg.error);
  const login = await client.POST("/auth/login", { body: { email, password } });
  if (!login.data) fail("login", login.response.status, login.error);
  const session = login.data.data;
  if (session.tokenType !== "Bearer" || session.user.id !== reg.data.data.user.id ||
    !session.roles.some((r) => r.name === "PATIENT")) {
    fail("login", login.response.status, session);
  }
  const auth = { Authorization: `Bearer ${session.accessToken}` };

  // The file part is format: binary, hence a Blob in the generated type.
  const image = new Blob([fs.readFileSync(values.image ?? "")], { type: "image/png" });
  const up = await client.POST("/screenings", {
    headers: auth,
    params: { header: { "Idempotency-Key": `ts-client-${email}` } },
    body: { image, eye: "left" },
    bodySerializer(body) {
      const fd = new FormData();
      fd.append("image", body.image, "fundus.png");
      // eye is optional in the document (a DICOM file may give it).
      if (body.eye !== undefined) fd.append("eye", body.eye);
      return fd;
    },
  });
  if (up.response.status !== 202 || !up.data) fail("upload", up.response.status, up.error);
  const id = up.data.data.id;

  const got = await client.GET("/screenings/{id}", { headers: auth, params: { path: { id } } });
  if (!got.data) fail("get", got.response.status, got.error);
  const s: Screening = got.data.data;
  if (s.id !== id || s.eye !== "left" || s.image.width < 256 || s.patient.userId !== session.user.id) {
    fail("get", got.response.status, s);
  }

  const list = async (status: ScreeningStatus[]): Promise<boolean> => {
    const r = await client.GET("/screenings", { headers: auth, params: { query: { status } } });
    if (!r.data) fail("list", r.response.status, r.error);
    return r.data.data.items.some((x) => x.id === id);
  };
  const listed = await list(["queued", "processing", "awaiting_review", "failed"]);
  const filteredOut = !(await list(["reviewed", "in_review"]));
  console.log(JSON.stringify({ userId: session.user.id, screeningId: id, status: s.status, listed, filteredOut }));
}

main().catch((err: unknown) => {
  console.error("check:", err instanceof Error ? err.message : err);
  process.exit(1);
});
