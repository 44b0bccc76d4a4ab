// The Hono app: one per process, built from injected dependencies so that the Node entry, a
// Workers entry and the tests all run the same routes.
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { ApiError, errorBody } from './errors.ts';
import { errorMessage } from './platform/logger.ts';
import { commentRoutes } from './routes/comments.ts';
import { prefersHtml, type AppDeps, type AppEnv, type RouteDeps } from './routes/context.ts';
import { healthRoutes } from './routes/health.ts';
import { readerPagePolicy } from './routes/html.ts';
import { messagePage } from './routes/pages.ts';
import { createSites } from './routes/sites.ts';
import { staffRoutes } from './routes/staff.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export type { AppDeps, AppEnv } from './routes/context.ts';

// Error pages carry no form and no script, so they get the strictest policy of the reader pages.
const ERROR_PAGE_POLICY = readerPagePolicy(["'none'"]);

function errorResponse(c: Context<AppEnv>, error: ApiError): Response {
  if (prefersHtml(c, 'application/json')) {
    c.header('content-security-policy', ERROR_PAGE_POLICY);
    const page = messagePage('Request failed', error.message, { requestId: c.get('requestId') });
    return c.html(page, error.status);
  }
  return c.json(errorBody(error, c.get('requestId')), error.status);
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const routeDeps: RouteDeps = { ...deps, sites: createSites(deps.config) };
  const { logger, ids, sites } = routeDeps;
  const app = new Hono<AppEnv>();

  app.use(requestId({ generator: () => ids.requestId() }));
  app.use(async function logRequest(c, next) {
    const started = performance.now();
    await next();
    logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      requestId: c.get('requestId'),
    });
  });

  // Browsers may call these routes from the two sites and from nowhere else. Origins are
  // compared whole (scheme, host and port), never by prefix. The pattern /api/comments/* also
  // matches /api/comments itself.
  const siteCors = cors({
    origin: (origin) => (sites.allowedOrigins.has(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ['Content-Type', 'Authorization', 'Idempotency-Key'],
    exposeHeaders: ['X-Request-Id'],
    maxAge: 600,
  });
  app.use('/api/comments/*', siteCors);
  app.use('/api/staff/*', siteCors);

  app.route('/api/comments', commentRoutes(routeDeps));
  app.route('/api/webhooks', webhookRoutes(routeDeps));
  app.route('/api/staff', staffRoutes(routeDeps));
  app.route('/api/health', healthRoutes(routeDeps));

  app.notFound((c) => errorResponse(c, new ApiError('not_found')));
  app.onError((error, c) => {
    logger.error('request failed', {
      method: c.req.method,
      path: c.req.path,
      requestId: c.get('requestId'),
      error: errorMessage(error),
    });
    if (error instanceof ApiError) return errorResponse(c, error);
    return errorResponse(c, new ApiError('internal_error'));
  });

  return app;
}
