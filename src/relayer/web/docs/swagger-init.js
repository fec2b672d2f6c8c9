// Starts Swagger UI on /docs. A file of its own, not an inline script: the docs pages run under
// a Content-Security-Policy that allows scripts from this origin only.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
