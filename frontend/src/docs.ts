// The API reference page (/api/docs/): Swagger UI, bundled from npm by Vite,
// rendering the OpenAPI document the host serves. Nothing leaves the origin:
// Swagger UI's online validator badge is off.

import SwaggerUI from 'swagger-ui-dist/swagger-ui-es-bundle.js'
import 'swagger-ui-dist/swagger-ui.css'

SwaggerUI({
  url: '/api/openapi.json',
  dom_id: '#docs',
  deepLinking: true,
  validatorUrl: null,
})
