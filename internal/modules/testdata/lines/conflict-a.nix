{ ... }:
{
  services.foo.name = "alpha"; # def
}
