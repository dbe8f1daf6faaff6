// Starts Swagger UI (swagger-ui-dist, served from this binary) on the
// document served at /api/openapi.json. "Try it out" sends requests to the
// document's server, /api of this origin; "Authorize" takes the
// accessToken of a login. No request leaves this origin: the online
// validator badge is off.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    displayOperationId: true,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [],
    layout: "BaseLayout",
  });
});
