{ ... }:
{
  services.foo.name = "ok";
  services.foo.port = "eighty"; # def
}
