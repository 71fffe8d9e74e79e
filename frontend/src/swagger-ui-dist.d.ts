// swagger-ui-dist ships no types; this is the one call the reference page makes.
declare module 'swagger-ui-dist/swagger-ui-es-bundle.js' {
  export default function SwaggerUI(options: {
    url: string
    dom_id: string
    deepLinking?: boolean
    validatorUrl?: string | null
  }): unknown
}
