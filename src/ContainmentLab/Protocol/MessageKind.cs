namespace ContainmentLab.Protocol;

public enum MessageKind
{
    Request,
    Notification,
    Response,
}
