// Generates api.d.ts from the OpenAPI document given as argument (a file
// holding the JSON served at /api/openapi.json) with openapi-typescript's
// API, as its documentation shows for file uploads: a schema of
// `format: binary` becomes a Blob (FormData's file type) instead of string.
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const [, , input, output] = process.argv;
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const ast = await openapiTS(JSON.parse(fs.readFileSync(input, "utf8")), {
  transform(schema) {
    if (schema.format === "binary") return BLOB;
    return undefined;
  },
});
fs.writeFileSync(output, astToString(ast));
