# A few NixOS-shaped option declarations, enough for the example
# configuration to mean something. onix's full system modules (networking,
# users, openssh, nginx, ...) will replace this file.
{ lib, ... }:
let inherit (lib) mkOption mkEnableOption types; in
{
  options = {
    networking.hostName = mkOption {
      type = types.str;
      default = "nixos";
      description = "The name of the machine.";
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      description = "TCP ports open in the firewall.";
    };
    services.openssh.enable = mkEnableOption "the OpenSSH daemon";
    services.nginx = {
      enable = mkEnableOption "nginx";
      virtualHosts = mkOption {
        default = { };
        description = "Virtual hosts served by nginx.";
        type = types.attrsOf (types.submodule ({ name, ... }: {
          options = {
            serverName = mkOption { type = types.str; default = name; };
            root = mkOption { type = types.nullOr types.str; default = null; };
            listenPort = mkOption { type = types.port; default = 80; };
          };
        }));
      };
    };
    users.users = mkOption {
      default = { };
      description = "User accounts.";
      type = types.attrsOf (types.submodule ({ name, ... }: {
        options = {
          name = mkOption { type = types.str; default = name; };
          isNormalUser = mkOption { type = types.bool; default = false; };
          extraGroups = mkOption { type = types.listOf types.str; default = [ ]; };
        };
      }));
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Packages in the system profile (names, until packages exist).";
    };
  };
}
