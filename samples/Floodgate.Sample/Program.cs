using Floodgate;

// A small API protected by Floodgate. Policies, the global limit and the lists come from appsettings.json
// ("Floodgate" section); persistence is on: blocks survive a restart (floodgate-data/ next to this file).
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Services.AddFloodgate(options =>
{
    // Monitoring probes that carry the shared secret are never limited (FlaskFloodgate's request_data_check).
    options.Exempt = context => context.Request.Headers["X-Probe-Key"] == builder.Configuration["ProbeKey"];
});

// Several instances behind a load balancer: set Floodgate:Redis:Configuration (e.g. the environment variable
// Floodgate__Redis__Configuration=localhost:6379) and every instance shares one limit per client.
if (!string.IsNullOrWhiteSpace(builder.Configuration["Floodgate:Redis:Configuration"]))
{
    builder.Services.AddFloodgateRedis();
}

WebApplication app = builder.Build();
app.UseFloodgate();

app.MapGet("/", () => "Floodgate sample. Try: GET /items, POST /login, GET /health.").DisableFloodgate();
app.MapPost("/login", () => Results.Ok(new { message = "Wrong password (this is a demo)." })).RequireFloodgate("login");
app.MapGet("/items", () => new[] { "apple", "pear", "plum" }).RequireFloodgate("api");
app.MapGet("/health", () => "healthy").DisableFloodgate();

app.Run();
