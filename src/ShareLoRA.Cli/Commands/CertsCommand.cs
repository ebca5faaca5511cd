using System.CommandLine;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora certs init|issue`: a private CA for one cluster and node certificates signed by it, so that only
/// machines holding such a certificate can join (docs/SECURITY.md). Uses .NET cryptography only (no openssl).
/// </summary>
public static class CertsCommand
{
    public static Command Create()
    {
        var command = new Command("certs", "Create the cluster CA and node certificates for mutually authenticated TLS between nodes.");
        command.Subcommands.Add(CreateInit());
        command.Subcommands.Add(CreateIssue());
        return command;
    }

    private static Command CreateInit()
    {
        var output = new Option<string>("--out") { Description = "Directory for ca.crt (public, give to every node) and ca.key (secret, mode 0600).", Required = true };
        var name = new Option<string>("--name") { Description = "Common name of the CA.", DefaultValueFactory = _ => "ShareLoRA cluster CA" };
        var days = new Option<int>("--days") { Description = "Validity of the CA in days.", DefaultValueFactory = _ => 3650 };
        var command = new Command("init", "Create a new cluster CA (ECDSA P-256): DIR/ca.crt and DIR/ca.key.") { output, name, days };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            using var authority = ClusterCertificates.CreateAuthority(parse.GetValue(name)!, parse.GetValue(days));
            WrapIo(() => ClusterCertificates.WriteAuthority(authority, dir));
            Console.WriteLine($"cluster CA '{authority.Subject}' valid until {authority.NotAfter.ToUniversalTime():yyyy-MM-dd}");
            Console.WriteLine($"  {Path.Combine(dir, ClusterCertificates.CaCertificateFile)}  give to every node and client (--ca)");
            Console.WriteLine($"  {Path.Combine(dir, ClusterCertificates.CaKeyFile)}  keep secret: whoever has it can make members");
            return 0;
        });
        return command;
    }

    private static Command CreateIssue()
    {
        var ca = new Option<string>("--ca") { Description = "Directory holding ca.crt and ca.key (from `certs init`).", Required = true };
        var name = new Option<string>("--name") { Description = "Node name: the certificate's common name and the file name NAME.pfx.", Required = true };
        var hosts = new Option<string[]>("--host")
        {
            Description = "DNS name or IP address of the node (repeatable); each becomes a subject alternative name.",
            AllowMultipleArgumentsPerToken = false,
        };
        var noLoopback = new Option<bool>("--no-loopback") { Description = "Leave 127.0.0.1 and localhost out of the names (included by default)." };
        var days = new Option<int>("--days") { Description = "Validity in days (capped at the CA's own expiry).", DefaultValueFactory = _ => 825 };
        var output = new Option<string>("--out") { Description = "Directory for NAME.pfx (certificate + private key, mode 0600).", Required = true };
        var command = new Command("issue",
            $"Issue a node certificate signed by the cluster CA, written as NAME.pfx (password from {ClusterCertificates.PasswordVariable}, or none).")
        {
            ca, name, hosts, noLoopback, days, output,
        };
        command.SetAction(parse =>
        {
            var nodeName = parse.GetValue(name)!;
            if (nodeName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || nodeName is "." or "..")
                throw new UserError($"--name must be usable as a file name (got '{nodeName}')");
            using var authority = ClusterCertificates.LoadAuthorityWithKey(parse.GetValue(ca)!);
            using var node = ClusterCertificates.IssueNode(authority, nodeName, parse.GetValue(hosts) ?? [], parse.GetValue(days), !parse.GetValue(noLoopback));
            var path = Path.Combine(parse.GetValue(output)!, nodeName + ".pfx");
            var password = ClusterCertificates.PasswordFromEnvironment();
            WrapIo(() => ClusterCertificates.WriteNodePfx(node, path, password));
            var sans = node.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().FirstOrDefault();
            var names = sans == null ? "" : string.Join(", ", sans.EnumerateDnsNames().Concat(sans.EnumerateIPAddresses().Select(ip => ip.ToString())));
            Console.WriteLine($"{path}: '{node.Subject}' issued by '{authority.Subject}', valid until {node.NotAfter.ToUniversalTime():yyyy-MM-dd}, " +
                              $"names [{names}], {(password == null ? "no password" : $"encrypted with the password from {ClusterCertificates.PasswordVariable}")}");
            return 0;
        });
        return command;
    }

    private static void WrapIo(Action write)
    {
        try { write(); }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException) { throw new UserError(e.Message); }
    }
}
