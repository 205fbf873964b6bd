namespace ContainmentLab.FakeAgent;

internal enum WireShapeKind
{
    Request,
    Notification,
    Response,
    Raw,
}
