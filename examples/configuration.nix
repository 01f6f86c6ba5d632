# An example machine, written the way NixOS configurations are written.
{ config, lib, ... }:
{
  networking.hostName = "web-01";

  services.openssh.enable = true;
  services.nginx.enable = true;
  services.nginx.virtualHosts."example.org".root = "/var/www/example";
  services.nginx.virtualHosts."status.example.org" = {
    listenPort = 8080;
  };

  networking.firewall.allowedTCPPorts =
    [ 22 ]
    ++ lib.optionals config.services.nginx.enable
      (lib.unique (lib.mapAttrsToList (_: v: v.listenPort) config.services.nginx.virtualHosts));

  users.users.alice = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
  };

  environment.systemPackages = [ "git" "htop" ] ++ lib.optional config.services.nginx.enable "nginx";
}
